"""Poisons the reference's cached counters, so the next grade judges against a bloated reference.

attack: the parent reuses the reference's counters from earlier grades (the counter
    cache); the worker's audit hook forbids opening that folder, but not a shell that
    writes it. At import the solution finds the cache folder in the load request (a
    caller's frame), computes the seed-free key with perfkata's own source hash and the
    reference's bytes (read with `cat`), and writes an entry whose reference peaks at
    1 GB. The page is correct but keeps 24 MiB of ballast: its memory check fails on an
    honest grade, and passes on the next grade, with another seed, against the poison.
    A refused write says "cannot write".
kata: n-plus-one-blog
backend: sqlite
expect: cannot write|tampering detected
"""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from perfkata.grader.counter_cache import SCHEMA, source_hash
from perfkata.katas.files import solution_dir
from perfkata.katas.n_plus_one_blog import KATA
from perfkata.katas.n_plus_one_blog.models import Comment, Post


def _load_request() -> dict:
    frame = sys._getframe(1)
    while frame is not None:
        req = frame.f_locals.get("req")
        if isinstance(req, dict) and req.get("op") == "load":
            return req
        frame = frame.f_back
    raise LookupError("no load request on the stack")


def _seed_free_key(reference: bytes, backend: str) -> str:
    parts = {
        "kata": KATA.slug,
        "sizes": list(KATA.sizes),
        "memory_sizes": list(KATA.memory_sizes),
        "backend": backend,
    }
    digest = hashlib.sha256(source_hash().encode())
    digest.update(reference)
    digest.update(json.dumps({**parts, "seed": None}, sort_keys=True).encode())
    return digest.hexdigest()[:32]


def _poison() -> None:
    req = _load_request()
    backend = ("postgresql" if req.get("db_url") else "sqlite") + (
        "+redis" if req.get("redis_url") else ""
    )
    reference = subprocess.run(
        ["cat", str(solution_dir(KATA.slug) / KATA.main_file)], capture_output=True
    ).stdout
    counters = {}
    for size in KATA.sizes:
        counters[str(size)] = {
            "statements": 3,
            "orm_statements": 3,
            "driver_statements": 3,
            "bypassed_statements": 0,
            "lazy_loads": 0,
            "unused_eager_loads": 0,
            "peak_bytes": 10**9,
        }
    folder = req["cache_dir"] if "cache_dir" in req else req["forbidden"][-1]
    target = Path(folder) / f"{_seed_free_key(reference, backend)}.json"
    entry = json.dumps({"counters": counters, "schema": SCHEMA})
    wrote = subprocess.run(
        ["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", str(target)],
        input=entry.encode(),
        capture_output=True,
    )
    if wrote.returncode != 0 or not reference:
        raise PermissionError(f"cannot write {target}: {wrote.stderr.decode().strip()}")


_poison()


def render_index(session: Session) -> list[dict]:
    ballast = bytearray(24 * 1024 * 1024)  # held through the page: the memory check sees it
    query = (
        select(Post)
        .order_by(Post.id)
        .options(
            joinedload(Post.author),
            joinedload(Post.category),
            selectinload(Post.comments).joinedload(Comment.author),
        )
    )
    page = [
        {
            "title": post.title,
            "author": post.author.name,
            "category": post.category.name,
            "comment_count": len(post.comments),
            "commenters": [comment.author.name for comment in post.comments],
        }
        for post in session.scalars(query)
    ]
    del ballast
    return page
