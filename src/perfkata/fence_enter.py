"""Inside the fences, before the learner's process starts: `python -I -S fence_enter.py
SPEC -- ARGV...`, run by `unshare` as root of a fresh mount and PID namespace. SPEC is
lines of "<key> <value>" (keys writable, hidden, readable: paths; uid, gid), not JSON:
importing json (re, enum) and text codecs tripled this step's start-up time.

It arranges the mounts (the interpreter's folders readable at their own paths, what the
grader hides hidden, everything read-only but the scratch folder, a fresh /dev/shm),
then gives up root for good — an unused uid/gid, no capabilities, no_new_privs — and
execs ARGV. Only the standard library, run by path with -S: nothing of the learner's,
nor of site-packages, is imported while it is still root.
"""

from __future__ import annotations

import ctypes
import os
import signal
import stat
import sys
from typing import Any

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 32, 1024, 2048, 4096, 16384
MS_RELATIME = 1 << 21
# statvfs flag bit -> mount flag: a remount must repeat the flags the kernel locked
# (in a user namespace it refuses to clear nosuid/nodev/noexec/atime flags).
_KEEP = {
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
FAILED = 121  # exit code: the fences could not be put up (not the learner's fault)

_libc = ctypes.CDLL(None, use_errno=True)


class FenceError(Exception):
    pass


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    enc = [None if s is None else os.fsencode(s) for s in (source, target, fstype, data)]
    if _libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]) != 0:
        err = ctypes.get_errno()
        raise FenceError(f"mount {source} on {target}: {os.strerror(err)}")


def prctl(option: int, arg: int, arg3: int = 0) -> None:
    if _libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(arg3), 0, 0) != 0:
        raise FenceError(f"prctl({option}): {os.strerror(ctypes.get_errno())}")


def ancestors(path: str) -> list[str]:
    """ "/a/b/c" -> ["/", "/a", "/a/b"]."""
    parts = path.strip("/").split("/")
    return ["/"] + ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


def blocked(folder: str, whole: bool = False) -> bool:
    """A folder other users cannot pass through (/root, a mktemp -d folder) or, for a
    folder needed `whole` (the solution's own), cannot list either."""
    need = stat.S_IXOTH | (stat.S_IROTH if whole else 0)
    try:
        info = os.stat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_mode & need != need


def reveal(readable: list[str], own: list[str]) -> None:
    """Each readable path stays reachable at its own path for the learner's uid: a blocked
    ancestor is covered by an empty 0755 tmpfs into which only the children leading to
    readable paths are bound back — the rest of that folder is gone. A readable folder
    that is itself closed (pytest's 0700 tmp_path) gets all its entries bound back —
    except the learner's `own` folders (its scratch, chowned to it)."""
    done: set[str] = set()
    while True:
        todo = sorted(
            {a for p in readable for a in ancestors(p) if a not in done and blocked(a)}
            | {p for p in readable if p not in done and p not in own and blocked(p, whole=True)},
            key=lambda a: a.count("/"),
        )
        if not todo:
            return
        folder = todo[0]
        done.add(folder)
        prefix = folder.rstrip("/") + "/"
        if folder in readable:
            children = set(os.listdir(folder))
        else:
            children = {p[len(prefix) :].split("/")[0] for p in readable if p.startswith(prefix)}
        cover(folder, children)


def open_path(path: str) -> int | None:
    """A handle on what `path` names (a dangling link: None), usable after it is covered."""
    try:
        return os.open(path, os.O_PATH)
    except OSError:
        return None


def cover(folder: str, children: set[str]) -> None:
    """An empty 0755 tmpfs over `folder`, with `children` of the original bound back."""
    prefix = folder.rstrip("/") + "/"
    kept = {c: fd for c in children if (fd := open_path(prefix + c)) is not None}
    mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
    for child, fd in kept.items():
        target = prefix + child
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.mkdir(target)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
        os.close(fd)


def hide(paths: list[str]) -> None:
    """Folders become an empty read-only tmpfs, files /dev/null; absent paths stay absent
    (the file system will be read-only, so nothing can be created there)."""
    for path in paths:
        if os.path.isdir(path):
            mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0555,size=4k")
        elif os.path.lexists(path):
            mount("/dev/null", path, None, MS_BIND)


def mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as info:
        for line in info:
            raw = line.split()[4]
            points.append(raw.encode().decode("unicode_escape"))  # \040 for a space
    return points


def read_only_everywhere(writable: list[str]) -> None:
    """Every mount read-only except the writable folders (bound onto themselves first so
    they are mounts of their own) and /proc, which the PID namespace made fresh."""
    for folder in writable:
        mount(folder, folder, None, MS_BIND | MS_REC)
    keep = set(writable)
    for point in mount_points():
        if point in keep or point == "/proc" or point.startswith("/proc/"):
            continue
        try:
            flags = os.statvfs(point).f_flag
        except OSError:
            continue  # shadowed by a later mount: out of reach anyway
        extra = sum(bit for st, bit in _KEEP.items() if flags & st)
        try:
            mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | extra)
        except FenceError:
            if point == "/":
                raise


def fresh_shm() -> None:
    if os.path.isdir("/dev/shm"):
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=256m")


def drop_privileges(spec: dict[str, Any]) -> None:
    """No capabilities can come back (bounding set empty, no_new_privs); as real root,
    also an unused uid/gid, so no file of root's or another grade's is writable."""
    with open("/proc/sys/kernel/cap_last_cap", "rb") as last:
        for cap in range(int(last.read()) + 1):
            prctl(PR_CAPBSET_DROP, cap)
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    uid, gid = spec.get("uid"), spec.get("gid")
    if uid is not None and gid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)  # clears the permitted and effective capabilities
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    # A change of credentials clears the parent-death signal `unshare --kill-child` set.
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def enter(spec: dict[str, Any]) -> None:
    reveal(spec["readable"], spec["writable"])
    hide(spec["hidden"])
    uid, gid = spec.get("uid"), spec.get("gid")
    for folder in spec["writable"]:
        if uid is not None and gid is not None:
            os.chown(folder, uid, gid)
    read_only_everywhere(spec["writable"])
    fresh_shm()
    if spec["writable"]:
        os.chdir(spec["writable"][0])
    drop_privileges(spec)


def parse(text: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"writable": [], "hidden": [], "readable": [], "uid": None, "gid": None}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if isinstance(spec[key], list):
            spec[key].append(value)
        else:
            spec[key] = int(value)
    return spec


def main(argv: list[str]) -> None:
    spec, command = parse(argv[1]), argv[3:]
    if os.getpid() != 1:  # not in the fresh namespaces: it would remount the host's files
        sys.stderr.write("perfkata fences: fence_enter runs only as pid 1 of `unshare`\n")
        os._exit(FAILED)
    try:
        enter(spec)
    except (FenceError, OSError) as exc:
        sys.stderr.write(f"perfkata fences: {exc}\n")
        sys.stderr.flush()
        os._exit(FAILED)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv)
