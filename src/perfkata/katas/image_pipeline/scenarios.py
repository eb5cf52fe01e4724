"""The runs the rubric reads: the whole story at each backlog size, a small backlog
worked to the end (every bulk image stored once per size), an album's email-sending
message delivered twice (as RedisBroker does after a worker dies), and the timed
request path."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from dramatiq import Message

from perfkata.katas.base import RunEnv
from perfkata.katas.image_pipeline import data
from perfkata.katas.image_pipeline.app import Plan
from perfkata.katas.image_pipeline.audit import audit
from perfkata.katas.image_pipeline.workload import (
    Run,
    album_settled,
    drain,
    fresh_run,
    request,
    work_until_settled,
)

DRAIN_BULK = 24  # legacy images in the backlog that is worked to the end


def run_story(module: ModuleType, env: RunEnv) -> dict[str, Any]:
    dataset = data.generate(env.size, env.seed)
    with fresh_run(module, env, Plan.of(dataset)) as run:
        request(module, env, "reimport", list(dataset.bulk))
        albums = [a["id"] for a in dataset.albums]
        failed = [a for a in albums if not request(module, env, "upload_album", a)]
        if failed:
            env.note(
                "email_errors",
                f"{len(failed)} of {len(dataset.albums)} uploads failed with StorageUnavailable "
                "(an HTTP 500 for the user): the upload ran inside the request, with no retry",
            )
        settled = work_until_settled(
            run, env, lambda: all(album_settled(run.tally, run.plan, dataset, a) for a in albums)
        )
        return audit(run, env, dataset, settled)


def bulk_drained(module: ModuleType, env: RunEnv) -> None:
    """A short backlog, worked until every queue is empty: each legacy image stored once
    in each size, with the right content."""
    dataset = data.generate(DRAIN_BULK, env.seed)
    with fresh_run(module, env, Plan.of(dataset, faults=False), in_process=True) as run:
        request(module, env, "reimport", list(dataset.bulk))
        drain(run, env)
        env.record("bulk_errors", bulk_errors(run, dataset, env))


def bulk_errors(run: Run, dataset: data.PipelineData, env: RunEnv) -> int:
    expected = data.expected_files(dataset, dataset.bulk)
    wrong: list[str] = []
    for key, digest in expected.items():
        stored, puts = run.tally.get(f"file:{key}"), run.tally.count(f"put:{key}")
        if stored is None:
            wrong.append(f"{key} was never stored")
        elif hashlib.sha256(stored).hexdigest() != digest:
            wrong.append(f"{key} holds the wrong content (resize the image's own original)")
        elif puts > 1:
            wrong.append(f"{key} was stored {puts} times")
    if wrong:
        env.note(
            "bulk_errors",
            f"after the re-import of {len(dataset.bulk)} images ran to the end, {wrong[0]} "
            f"({len(wrong)} such sizes)",
        )
    return len(wrong)


def redelivered(module: ModuleType, env: RunEnv) -> None:
    """One album, no faults; once it is emailed, the message that sent the email is
    delivered again — a broker delivers at least once — and must not email again."""
    dataset = data.generate(1, env.seed)  # album 1: never the doomed photo's
    with fresh_run(module, env, Plan.of(dataset, faults=False), in_process=True) as run:
        if not request(module, env, "upload_album", 1):
            env.record("callback_errors", 1)
            return
        work_until_settled(run, env, lambda: album_settled(run.tally, run.plan, dataset, 1))
        env.record("callback_errors", callback_errors(run, env))


def callback_errors(run: Run, env: RunEnv) -> int:
    sent = run.tally.count("email:1")
    if sent != 1:
        env.note(
            "callback_errors",
            f"album 1, uploaded alone, got {sent} emails before its email's message was "
            "delivered again, so a redelivery could not be judged: first send one email per "
            "album (see the emails check)",
        )
        return 1
    raw = run.tally.get("email-message:1")
    if raw is None:
        env.note(
            "callback_errors",
            "the album's email was not sent by a job: send it from the album's completion "
            "callback, and make that callback idempotent",
        )
        return 1
    message: Any = Message(**json.loads(raw))
    run.broker.enqueue(message)
    drain(run, env)
    again = run.tally.count("email:1") - 1
    if again:
        env.note(
            "callback_errors",
            f"{message.actor_name}, delivered a second time, emailed the album again: brokers "
            "deliver at least once — record that the album was emailed, and skip it then",
        )
    return again


TIMED_ALBUMS = 3


def timed_uploads(module: ModuleType, env: RunEnv) -> Iterator[Callable[[], Run]]:
    """What a timing sample runs: the upload requests only, without faults. Staged: the
    broker is built before the yield and flushed after it, untimed."""
    dataset = data.generate(1, env.seed)
    with fresh_run(module, env, Plan.of(dataset, faults=False), shared_tally=False) as run:

        def uploads() -> Run:
            for album in range(1, TIMED_ALBUMS + 1):
                request(module, env, "upload_album", album)
            return run

        yield uploads
        run.broker.flush_all()


def uploads_effect(env: RunEnv, run: Run) -> dict[str, int]:
    """A timed call's effect: the jobs its requests enqueued, or the albums it finished
    itself (a request that still does the work)."""
    emailed = sum(run.tally.count(f"email:{a}") > 0 for a in range(1, TIMED_ALBUMS + 1))
    return {"albums": TIMED_ALBUMS, "sent": run.tally.count("sent"), "emailed": emailed}


def verify_uploads(dataset: Any, found: dict[str, int]) -> str | None:
    if found["sent"] >= found["albums"] or found["emailed"] >= found["albums"]:
        return None
    return (
        f"its {found['albums']} uploads enqueued {found['sent']} jobs and finished "
        f"{found['emailed']} albums: each upload must enqueue its album's work"
    )
