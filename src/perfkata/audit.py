"""Evidence inside the worker that the learner's code cannot switch off.

`install()` adds an audit hook (`sys.addaudithook`: it cannot be removed) before any
learner code is imported. Its state lives only in closures, reachable from Python only
through frames or the garbage collector — and the hook reports both. It:

- attaches a statement counter to every sqlite3 connection when it is made
  (`sqlite3.connect/handle`: however it was made, `from sqlite3 import connect`, a
  `sqlite3.Connection` subclass …), keeps the connection alive and checks afterwards,
  with a sentinel statement, that its counter is still attached;
- records tampering: frames taken by the learner's code (`sys._getframe`, `tb_frame`,
  `gi_frame` …: from a frame, `f_back` reaches the worker), the garbage collector's
  object walks, ctypes, tracers, compiling code that claims to be a trusted file,
  adding audit hooks, reading perfkata's installed files.

Everything the hook calls is bound here, at install time: patching `sys._getframe`,
`re` or `os.stat` afterwards changes nothing it does. "The learner's code" is any frame
outside the standard library, site-packages and perfkata (and always the learner's
own file): a module the learner writes to scratch and imports is theirs too.
"""

from __future__ import annotations

import _thread
import os
import re
import sqlite3
import sys
import sysconfig
from collections.abc import Callable
from operator import is_not, itemgetter
from types import FrameType, FunctionType, MethodType
from typing import Any, NamedTuple

import perfkata

# Drivers' own statements that are not round trips the learner asked for: transaction
# control, PRAGMAs a connection is set up with, SQLite's trigger bodies ("-- TRIGGER").
_NOT_COUNTED = re.compile(
    r"\s*(?:(?:BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|END|PRAGMA)\b|--|;*\s*$)", re.IGNORECASE
)
# Attributes that hand out a frame (object.__getattr__ audits them): from any frame,
# f_back climbs to the worker's.
_FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
_FRAME_EVENTS = frozenset({"sys._getframe", "sys._current_frames"})
# Asked through a library, still the learner's ask: these only pass the frame on
# (traceback's other functions read frames for themselves: format_exc is honest).
_FRAME_HANDERS = frozenset({"walk_stack", "walk_tb"})
_INSPECT = os.sep + "inspect.py"
_TRACEBACK = os.sep + "traceback.py"
_OBJECT_WALKS = frozenset({"gc.get_referrers", "gc.get_referents", "gc.get_objects"})
_TRACERS = frozenset({"sys.settrace", "sys.setprofile", "sys.addaudithook"})
# A function's code and default arguments, changed in place (no name is rebound)
_FUNCTION_EDITS = frozenset({"object.__setattr__", "object.__delattr__"})
_FUNCTION_PARTS = frozenset({"__code__", "__defaults__", "__kwdefaults__"})


class Evidence(NamedTuple):
    """The hook's read side; held by the worker's main() only (a local, not a global)."""

    learner: Callable[[str], None]  # the learner's file: its frames are always the learner's
    events: Callable[[], list[str]]  # tampering seen so far: "<what> at <file>:<line>"
    note: Callable[[str], None]  # tampering found by another check (a rebound global)
    driver: Callable[[], int]  # statements run on every sqlite3 connection so far
    feed: Callable[[Callable[[str], None]], Callable[[], None]]  # subscribe; returns unsubscribe
    verify: Callable[[], None]  # each live connection still counted? (else: tampering)
    freeze: Callable[[dict[str, Any]], None]  # remember these namespaces (+ perfkata's) as they are
    compare: Callable[[], None]  # any name rebound since freeze(): tampering
    seal: Callable[[str], None]  # the parent's secret for this worker's replies (once)
    sealed: Callable[[], str | None]  # the secret; None once any tampering was seen


def _roots() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(standard library, every trusted root): where code that is not the learner's lives."""
    paths = sysconfig.get_paths()
    stdlib = {os.path.realpath(paths[k]) + os.sep for k in ("stdlib", "platstdlib")}
    stdlib |= {paths[k] + os.sep for k in ("stdlib", "platstdlib")}
    trusted = set(stdlib)
    for key in ("purelib", "platlib"):
        trusted |= {paths[key] + os.sep, os.path.realpath(paths[key]) + os.sep}
    package = os.path.dirname(os.path.abspath(perfkata.__file__))
    trusted |= {package + os.sep, os.path.realpath(package) + os.sep}
    trusted.add("<sqlalchemy ")  # SQLAlchemy's generated code ("<string>" is anyone's)
    return tuple(sorted(stdlib)), tuple(sorted(trusted))


def _installed_files() -> frozenset[tuple[int, int]]:
    """(device, inode) of perfkata's installed files: a symlink or a hard link to one is
    the same file."""
    found = set()
    for folder, _, names in os.walk(os.path.dirname(os.path.realpath(perfkata.__file__))):
        for name in names:
            st = os.stat(os.path.join(folder, name))
            found.add((st.st_dev, st.st_ino))
    return frozenset(found)


# One long scope on purpose: its state must live in closures, never in anything a module
# or an object attribute reaches.
def install(block: bool = False) -> Evidence:
    """The hook, added now. `block`: tampering also raises PermissionError in the code
    that attempted it (where nobody reads the evidence: the report kata's job processes)."""
    stdlib, trusted = _roots()
    own = os.path.dirname(os.path.abspath(perfkata.__file__)) + os.sep
    installed = _installed_files()
    getframe, ident, stat, fspath = sys._getframe, _thread.get_ident, os.stat, os.fspath
    getprofile, setprofile = sys.getprofile, sys.setprofile
    pending: list[tuple[sqlite3.Connection, str]] = []  # (connection, where it was made)
    set_trace = sqlite3.Connection.set_trace_callback  # the C methods, not a subclass's
    execute = sqlite3.Connection.execute
    not_counted = _NOT_COUNTED.match
    here = __file__
    sentinel = f"SELECT 'perfkata-{os.urandom(8).hex()}'"
    learner_files: set[str] = set()
    kinds: dict[str, str] = {}  # filename -> "stdlib" | "trusted" | "learner"
    events: list[str] = []
    busy: set[int] = set()  # threads inside the hook: its own frame reads raise events too
    total = [0]
    subscribers: list[Callable[[str], None]] = []
    connections: list[tuple[sqlite3.Connection, list[bool], str]] = []

    def kind(filename: str) -> str:
        found = kinds.get(filename)
        if found is None:
            if filename in learner_files:
                found = "learner"
            elif filename.startswith("<frozen ") or filename.startswith(stdlib):
                found = "stdlib"
            elif filename.startswith(trusted):  # "<sqlalchemy generated …>" too
                found = "trusted"
            else:
                found = "learner"
            kinds[filename] = found
        return found

    def record(what: str, frame: FrameType) -> None:
        code = frame.f_code
        note(f"{what} at {code.co_filename}:{frame.f_lineno}")

    def innermost() -> FrameType | None:
        frame: FrameType | None = getframe(1)
        while frame is not None and frame.f_code.co_filename == here:
            frame = frame.f_back
        return frame

    def asker(skip: Callable[[FrameType], bool]) -> FrameType | None:
        """The innermost frame `skip` does not pass over, when it is the learner's."""
        frame = innermost()
        while frame is not None and skip(frame):
            frame = frame.f_back
        if frame is not None and kind(frame.f_code.co_filename) == "learner":
            return frame
        return None

    def hands_frames(frame: FrameType) -> bool:
        code = frame.f_code
        if code.co_filename.endswith(_TRACEBACK):
            return code.co_name in _FRAME_HANDERS
        return code.co_filename.endswith(_INSPECT)

    def in_stdlib(frame: FrameType) -> bool:
        return kind(frame.f_code.co_filename) == "stdlib"

    def importing() -> bool:
        frame = innermost()
        while frame is not None and kind(frame.f_code.co_filename) != "learner":
            if frame.f_code.co_filename.startswith("<frozen importlib"):
                return True
            frame = frame.f_back
        return False

    def made_by_learner() -> str:
        frame = innermost()
        while frame is not None and kind(frame.f_code.co_filename) != "learner":
            frame = frame.f_back
        if frame is None:
            return " by perfkata (its engine's)"
        return f" at {frame.f_code.co_filename}:{frame.f_lineno}"

    def attach(conn: sqlite3.Connection, where: str) -> None:
        seen = [False]

        def trace(statement: str) -> None:
            if statement == sentinel:
                seen[0] = True
            elif not not_counted(statement):
                total[0] += 1
                for subscriber in subscribers:
                    subscriber(statement)

        set_trace(conn, trace)
        connections.append((conn, seen, where))

    def attach_when_ready(conn: sqlite3.Connection) -> None:
        """The event comes from inside Connection.__init__, before the connection may be
        traced: attach at this thread's next call or return — the end of that __init__
        or connect(), before any statement can be run from Python."""
        pending.append((conn, made_by_learner()))
        previous = getprofile()

        def profile(frame: FrameType, event: str, arg: Any) -> None:
            me = ident()
            busy.add(me)  # restoring the profiler raises an event of its own
            try:
                setprofile(previous)
                while pending:
                    attach(*pending.pop())
            finally:
                busy.discard(me)

        setprofile(profile)

    def opened_installed(args: tuple[Any, ...]) -> bool:
        if not args or not isinstance(args[0], str | bytes | os.PathLike):
            return False
        try:
            st = stat(fspath(args[0]))
        except (OSError, ValueError):
            return False
        return (st.st_dev, st.st_ino) in installed

    def judge(event: str, args: tuple[Any, ...]) -> None:
        frame: FrameType | None = None
        if event in _FRAME_EVENTS:
            frame = asker(hands_frames)
        elif event == "object.__getattr__":
            frame, event = asker(hands_frames), f"reading .{args[1]}"
        elif event == "sqlite3.connect/handle":
            attach_when_ready(args[0])
        elif event in _OBJECT_WALKS or event in _TRACERS or event.startswith("ctypes."):
            frame = asker(in_stdlib)
        elif event in ("compile", "code.__new__"):
            claimed = args[1] if len(args) > 1 else None
            # Imports make code objects too (from .pyc files): those are not the learner's.
            if isinstance(claimed, str) and kind(claimed) != "learner" and not importing():
                frame, event = asker(in_stdlib), f"{event} as {claimed}"
        elif event == "open" and opened_installed(args) and not importing():
            frame, event = asker(in_stdlib), f"opening {fspath(args[0])!r}"
        elif event in _FUNCTION_EDITS and changes_trusted_function(args):
            # a default argument is how the worker keeps its clock out of reach
            frame, event = asker(in_stdlib), f"changing {args[0].__qualname__}.{args[1]}"
        if frame is not None:
            record(event, frame)
            if block:
                raise PermissionError(f"perfkata: tampering detected: {events[-1]}")

    def changes_trusted_function(args: tuple[Any, ...]) -> bool:
        """perfkata's own functions only (the worker's clock is one's default argument):
        libraries rewrite their own functions' defaults as they are imported (SQLAlchemy's
        dialects do), with the learner's import line below them on the stack."""
        target = args[0] if args else None
        if not isinstance(target, FunctionType) or args[1] not in _FUNCTION_PARTS:
            return False
        return target.__code__.co_filename.startswith(own) and not importing()

    watched = (
        _FRAME_EVENTS
        | _OBJECT_WALKS
        | _TRACERS
        | _FUNCTION_EDITS
        | {"object.__getattr__", "sqlite3.connect/handle", "compile", "code.__new__", "open"}
    )

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event not in watched and not event.startswith("ctypes."):
            return
        if event == "object.__getattr__" and args[1] not in _FRAME_ATTRIBUTES:
            return  # f_code and the like, read on every statement by the probes
        me = ident()
        if me in busy:
            return
        busy.add(me)
        try:
            judge(event, args)
        finally:
            busy.discard(me)

    def learner(path: str) -> None:
        for name in (path, os.path.realpath(path)):
            learner_files.add(name)
            kinds.pop(name, None)

    def verify() -> None:
        """A sentinel statement on each live connection: unseen, its counter was removed
        (or replaced) behind the hook's back."""
        while pending:  # made by a path that called nothing afterwards
            attach(*pending.pop())
        alive = []
        for conn, seen, where in connections:
            seen[0] = False
            try:
                execute(conn, sentinel).close()
            except sqlite3.ProgrammingError as exc:
                if "closed" in str(exc):
                    continue  # closed: it can run nothing more
                alive.append((conn, seen, where))  # another thread's: checked by that thread's use
                continue
            except sqlite3.Error:
                pass
            alive.append((conn, seen, where))
            if not seen[0]:
                note(f"the statement counter removed from the sqlite3 connection made{where}")
        connections[:] = alive

    def feed(subscriber: Callable[[str], None]) -> Callable[[], None]:
        subscribers.append(subscriber)
        return lambda: subscribers.remove(subscriber) if subscriber in subscribers else None

    def note(entry: str) -> None:
        # The seal goes first, before the frame (or object) is handed over: from a frame
        # the secret could be read and a reply forged without these events.
        secret[0] = None
        if entry not in events:
            events.append(entry)

    def seal(value: str) -> None:
        if not sealed_once:
            sealed_once.append(True)
            secret[0] = value

    frozen: list[Callable[[], list[str]]] = []
    secret: list[str | None] = [None]
    sealed_once: list[bool] = []

    def freeze(extra: dict[str, Any]) -> None:
        frozen[:] = [namespaces_as_they_are(extra)]

    def compare() -> None:
        for check in frozen:
            for entry in check():
                note(entry)

    sys.addaudithook(hook)
    return Evidence(
        learner=learner,
        events=lambda: list(events),
        note=note,
        driver=lambda: total[0],
        feed=feed,
        verify=verify,
        freeze=freeze,
        compare=compare,
        seal=seal,
        sealed=lambda: secret[0],
    )


# Modules whose names the measuring path looks up at call time (besides perfkata's own).
_WATCHED_MODULES = ("json", "json.encoder", "sqlite3", "sqlite3.dbapi2", "time", "gc")
# Packages whose modules and classes are watched whole: the probes listen through them.
_WATCHED_PACKAGES = ("perfkata.", "sqlalchemy.", "psycopg.")


def namespaces_as_they_are(extra: dict[str, Any]) -> Callable[[], list[str]]:
    """A check that names every global rebound since now in perfkata's modules (the
    worker's `__main__` too) and a few the measuring path uses, every attribute of their
    classes, every entry of `extra`'s dicts, and any signal handler set (a handler is
    given the interrupted frame, an unaudited way to the worker's). Only names bound to
    code (functions, classes, methods) are compared. Nothing an honest solution does
    rebinds these; a patch to rewrite a reply or a counter has to."""
    import signal

    getsignal = signal.getsignal
    spaces: dict[str, dict[str, Any]] = dict(extra)
    for name, module in list(sys.modules.items()):
        ours = (name + ".").startswith(_WATCHED_PACKAGES) or name == "__main__"
        if module is None or not (ours or name in _WATCHED_MODULES):
            continue
        spaces[name] = vars(module)
        for attr, value in list(vars(module).items()):
            mapped = hasattr(value, "__mapper__")  # SQLAlchemy adds to mapped classes
            if ours and isinstance(value, type) and value.__module__ == name and not mapped:
                spaces[f"{name}.{attr}"] = value.__dict__  # type: ignore[assignment]
    before = {name: dict(space) for name, space in spaces.items()}  # the objects, kept alive
    signals = {s: getsignal(s) for s in signal.valid_signals() if s < signal.NSIG}
    quick = identities(spaces, before)
    # Bound now, before any learner code: a global or builtin rebound later (`any`, this
    # module's `same`) changes nothing the check does, and is itself reported.
    any_, all_, map_, is_not_, callable_ = any, all, map, is_not, callable
    same_, defined_at_, list_, key_error = same, defined_at, list, KeyError

    def unchanged() -> bool:
        """Every code-bound name still holds the object frozen. False is not yet
        tampering: a name removed, or a method bound again, goes to the full walk."""
        try:
            return not any_(any_(map_(is_not_, get(space), was)) for space, get, was in quick)
        except key_error:
            return False

    def changed() -> list[str]:
        if unchanged() and all_(getsignal(n) is h for n, h in signals.items()):
            return []  # every name bound to code is still the very object frozen
        found = []
        for name, space in spaces.items():
            was = before[name]
            for key, value in list_(space.items()):
                # Code only: settings (a kata's simulated latency) are changed by perfkata.
                if key in was and callable_(was[key]) and not same_(was[key], value):
                    found.append(f"{name}.{key} replaced{defined_at_(value)}")
        for number, handler in signals.items():
            if getsignal(number) is not handler:
                found.append(f"a handler set for signal {number}")
        return found

    return changed


# Per namespace: the namespace, a getter of its code-bound names at once, those objects.
Identities = list[tuple[dict[str, Any], Callable[[dict[str, Any]], Any], tuple[Any, ...]]]


def identities(spaces: dict[str, dict[str, Any]], before: dict[str, dict[str, Any]]) -> Identities:
    """The check's fast path: the names bound to code in each namespace, fetched in one
    C-level call (`itemgetter`) to be compared by identity (`map(is_not, …)`) — ~25k
    names in well under a millisecond, where the full walk takes ~3 ms a request."""
    found: Identities = []
    for name, space in spaces.items():
        keys = tuple(key for key, value in before[name].items() if callable(value))
        if keys:
            keys = keys if len(keys) > 1 else keys * 2  # itemgetter of one key: no tuple
            found.append((space, itemgetter(*keys), tuple(before[name][k] for k in keys)))
    return found


def same(before: Any, now: Any) -> bool:
    """The same object — or the same method bound again (psycopg.connect is a classmethod:
    every read of Connection.connect makes a new bound method, restored by the probes)."""
    if before is now:
        return True
    both_bound = type(before) is MethodType and type(now) is MethodType
    return both_bound and before.__func__ is now.__func__ and before.__self__ is now.__self__


def defined_at(value: Any) -> str:
    """Where a replacement function was written: the learner's file and line."""
    if type(value) is MethodType:
        value = value.__func__
    if type(value) is not FunctionType:
        return ""
    code = value.__code__
    return f" by {code.co_name} at {code.co_filename}:{code.co_firstlineno}"
