"""The worker's side: the learner's Flask app, built once per run around the worker's own
`Shop`, answering one request at a time for the parent (the stream, the caches and the
oracle all live in the grader's process), and the timed revalidations.

Each request is one worker op (katas extras["worker_ops"], grader/worker.py op_kata):
the reply carries the status, the headers, the body's exact bytes and how many renders
the request cost."""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from werkzeug.serving import make_server
from werkzeug.test import EnvironBuilder, run_wsgi_app

from perfkata.bench.sourceline import LearnerFiles
from perfkata.errors import LearnerCodeError, ServiceFailed
from perfkata.katas.base import RunEnv
from perfkata.katas.http_caching.data import generate
from perfkata.katas.http_caching.shop import Shop

HOST = "http://shop.test"
WsgiApp = Callable[..., Any]


@contextmanager
def answering(module: ModuleType, doing: str) -> Iterator[None]:
    """A learner's exception told with what the app was doing — the request it was
    answering — rather than the worker's generic "while running create_app" (the worker's
    own wrapper, grader/loading.learner_errors, passes a LearnerCodeError on as it is)."""
    try:
        yield
    except (LearnerCodeError, ServiceFailed):
        raise
    except Exception as exc:
        files = LearnerFiles([str(getattr(module, "__file__", ""))])
        where = files.innermost_in_traceback(exc.__traceback__)
        location = f" at {where.short()} (in {where.function})" if where else ""
        summary = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        raise LearnerCodeError(
            f"{summary}{location}, while {doing}.",
            file=where.file if where else None,
            line=where.line if where else None,
            details="".join(traceback.format_exception(exc)),
        ) from None


def make_app(module: ModuleType, shop: Shop) -> WsgiApp:
    """The learner's app; its exceptions propagate (a 500 page would hide the line)."""
    with answering(module, "building the app (create_app(shop))"):
        app = module.create_app(shop)
    if not callable(app):
        raise LearnerCodeError(
            f"create_app() returned {type(app).__name__}, not a Flask (WSGI) app.",
            hint="Build the app with Flask(__name__) and return it, as the starter does.",
        )
    config = getattr(app, "config", None)
    if isinstance(config, dict):
        config["PROPAGATE_EXCEPTIONS"] = True
    return app  # type: ignore[no-any-return]


def call_app(
    app: WsgiApp, path: str, headers: dict[str, str]
) -> tuple[int, list[list[str]], bytes]:
    """One GET through the app's WSGI interface, as a server would make it."""
    environ = EnvironBuilder(path=path, base_url=HOST, headers=list(headers.items())).get_environ()
    body_iter, status, response_headers = run_wsgi_app(app, environ, buffered=True)
    try:
        body = b"".join(body_iter)
    finally:
        close = getattr(body_iter, "close", None)
        if close is not None:
            close()
    return int(status.split()[0]), [[k, v] for k, v in response_headers.items()], body


def op_open(module: ModuleType, store: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    shop = Shop(generate(int(args["size"]), int(args["seed"])))
    store.clear()
    store.update(shop=shop, app=make_app(module, shop), start=shop.renders)
    if not args.get("serve"):
        return {"renders": 0}
    server = make_server("127.0.0.1", 0, served(store), threaded=False)
    threading.Thread(target=server.serve_forever, name="perfkata-serve", daemon=True).start()
    store["server"] = server
    return {"renders": 0, "port": server.server_port}


def served(store: dict[str, Any]) -> WsgiApp:
    """`--serve`: the app as Werkzeug's server calls it, wrapped to take perfkata's edits
    off the request (before the app sees it) and to say the renders it cost. An error in
    the app is kept and raised at the end of the stream, at the learner's line."""
    shop: Shop = store["shop"]

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        for edit in json.loads(environ.pop("HTTP_X_PERFKATA_EDITS", "[]")):
            shop.apply(edit)
        before = shop.renders
        try:
            body_iter, status, headers = run_wsgi_app(store["app"], environ, buffered=True)
            body = b"".join(body_iter)
        except Exception as exc:  # the learner's; said when the stream ends
            store.setdefault("error", (exc, f"answering GET {environ.get('PATH_INFO', '?')}"))
            start_response("500 INTERNAL SERVER ERROR", [("Content-Length", "0")])
            return [b""]
        pairs = [(k, v) for k, v in headers.items() if k.lower() != "content-length"]
        pairs += [
            ("Content-Length", str(len(body))),
            ("X-Perfkata-Renders", str(shop.renders - before)),
        ]
        start_response(status, pairs)
        return [body]

    return wsgi


def op_request(module: ModuleType, store: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """The edits made since the last request (one op fewer each), then the request."""
    shop: Shop = store["shop"]
    for edit in args.get("edits", ()):
        shop.apply(edit)
    before = shop.renders
    with answering(module, f"answering GET {args['path']}"):
        status, headers, body = call_app(store["app"], args["path"], args["headers"])
    return {
        "status": status,
        "headers": headers,
        "body": body.decode("latin-1"),  # every byte as one character: exact on the way back
        "renders": shop.renders - before,
    }


def op_close(module: ModuleType, store: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    shop: Shop = store["shop"]
    server = store.get("server")
    if server is not None:
        server.shutdown()
        server.server_close()
    if "error" in store:  # raised here, with the request it was answering: file and line
        error, doing = store["error"]
        with answering(module, doing):
            raise error
    for edit in args.get("edits", ()):
        shop.apply(edit)
    renders = shop.renders - store["start"]
    store.clear()
    return {"renders": renders}


WORKER_OPS = {"open": op_open, "request": op_request, "close": op_close}


# --- timing: revalidations, in the worker -------------------------------------------
TIMED_REQUESTS = 30


def timed_plan(size: int, seed: int) -> list[tuple[str, dict[str, str]]]:
    """The timed requests: catalog pages only — product pages (each user in their own
    language) and reviews. A dashboard may rightly be `no-store`, with no validator to
    revalidate: timing it would fail a correct policy (its renders-on-304 are counted)."""
    data = generate(size, seed)
    users = {u["id"]: u for u in data.users}
    plan = []
    for n in range(TIMED_REQUESTS):
        user = users[n // 2 % len(users) + 1]  # every user reads both kinds of page
        headers = {"Authorization": f"Bearer {user['token']}", "Accept-Language": user["lang"]}
        product = n * 7 % size + 1
        path = (f"/products/{product}", f"/products/{product}/reviews")[n % 2]
        plan.append((path, headers))
    return plan


def conditional(headers: dict[str, str], response: list[list[str]]) -> dict[str, str]:
    """The request again, carrying the validators its first response gave (if any)."""
    given = {k.lower(): v for k, v in response}
    wanted = dict(headers)
    if "etag" in given:
        wanted["If-None-Match"] = given["etag"]
    if "last-modified" in given:
        wanted["If-Modified-Since"] = given["last-modified"]
    return wanted


def timed_revalidations(module: ModuleType, env: RunEnv) -> Iterator[Callable[[], Any]]:
    """Set-up (untimed, once per dataset): the app built and every timed request (the
    catalog's, timed_plan) made once to learn its validators. Timed: each request again,
    conditional — what a cache sends when its copy expired and nothing changed. The
    starter's have no validators, so they are full renders: the speed-up is a
    revalidation's cost against a render's."""
    primed: dict[tuple[int, int], Any] = env.services["primed"]
    key = (env.size, env.seed)
    if key not in primed:
        shop = Shop(generate(env.size, env.seed))
        app = make_app(module, shop)
        plan = []
        for path, headers in timed_plan(env.size, env.seed):
            with answering(module, f"answering GET {path} (timing's set-up)"):
                _, given, _ = call_app(app, path, headers)
            plan.append((path, conditional(headers, given)))
        primed[key] = (app, plan)
    app, plan = primed[key]
    yield lambda: [call_app(app, path, headers) for path, headers in plan]


def timed_answers(env: RunEnv, output: Any) -> list[list[Any]]:
    """What the timed call answered (katas/effects.py): each status and body."""
    return [[status, body.decode("latin-1")] for status, _, body in output]
