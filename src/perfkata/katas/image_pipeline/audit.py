"""After the jobs: what the fakes and the recorder saw, turned into the rubric's counts
and, for each problem, a sentence naming the album or image that showed it.

Every count reads what happened (uploads per key, emails per album and their place in
the order of events, uploads in flight, the messages sent), so any correct shape
passes: dramatiq's group callback or a counter of its own, one chain per image or per
size, a rate limiter that raises or one that waits."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from typing import Any

from perfkata.katas.base import RunEnv
from perfkata.katas.image_pipeline import data
from perfkata.katas.image_pipeline.app import CDN_LIMIT, StorageUnavailable, services
from perfkata.katas.image_pipeline.data import SIZES, image_key
from perfkata.katas.image_pipeline.jobs import MAX_PAYLOAD
from perfkata.katas.image_pipeline.workload import Run
from perfkata.katas.report_worker.jobs import RUNAWAY_RETRIES
from perfkata.katas.report_worker.policy import declared_policy
from perfkata.katas.report_worker.store import Tally

MAX_RETRIES = 5
MAX_DELAY_MS = 30_000
WORK = ("download", "resize", "put", "mail")
PROBE = StorageUnavailable("upload timed out (the grader asking retry_when)")


def audit(run: Run, env: RunEnv, dataset: data.PipelineData, settled: bool) -> dict[str, Any]:
    tally = run.tally
    if not settled:
        env.note("email_errors", "the albums were not settled in time: the queues still held work")
    env.record("workers_killed", tally.count("killed"))
    env.record("request_work", request_work(services.run.in_request, env))
    env.record("email_errors", email_errors(run, dataset, env))
    env.record("bulk_before_album", bulk_before_album(tally, dataset, env))
    env.record("peak_uploads", peak_uploads(tally, env))
    env.record("message_errors", message_errors(tally, env))
    env.record("retry_policy_errors", policy_errors(run, env))
    env.record("runaway_retries", tally.count("runaway_retries"))
    return stored_output(tally, dataset)


def stored_output(tally: Tally, dataset: data.PipelineData) -> dict[str, Any]:
    """The albums' photos as stored: content digests and upload counts, for the oracle."""
    keys = [
        image_key(photo, size)
        for album in dataset.albums
        for photo in dataset.album_images(album["id"])
        for size in SIZES
    ]
    files = {k: tally.get(f"file:{k}") for k in keys}
    photos = [p for a in dataset.albums for p in dataset.album_images(a["id"])]
    return {
        "files": {k: hashlib.sha256(v).hexdigest() for k, v in files.items() if v is not None},
        "puts": {k: n for k in keys if (n := tally.count(f"put:{k}"))},
        "first_error": refusals_ate_retries(tally, photos, dataset.doomed)
        or (tally.get("first_error") or b"").decode(),
    }


def refusals_ate_retries(tally: Tally, photos: list[int], doomed: int | None) -> str | None:
    """Why a photo the CDN would have stored was given up, when its limiter raised: the
    refusals reached dramatiq, which counts each as one of the message's retries."""
    lost = [p for p in photos if p != doomed and tally.count(f"dead:{p}")]
    if not lost or not tally.count("refusals_raised"):
        return None
    first = (tally.get("first_refusal") or b"").decode()
    return (
        f"photo {lost[0]} was given up (dead-lettered) although the CDN would have stored it; "
        f"{first} ({tally.count('refusals_raised')} refusals in all). Every exception that "
        "reaches dramatiq counts as one of the message's retries, a refusal too (the "
        "`retries` your retry_when is given counts them), so the CDN's refusals used up the "
        "retry budget StorageUnavailable needed: wait for a slot instead — loop on `with "
        "CDN.acquire(raise_on_failure=False) as ok:` and sleep a moment when not ok — or "
        "keep refusals out of the retry count"
    )


def request_work(inside: Counter[str], env: RunEnv) -> int:
    """Downloads, resizes, uploads and emails done inside the web requests."""
    total = 0
    for name in ("upload_album", "reimport"):
        counts = {w: inside[f"{name}:{w}"] for w in WORK}
        if any(counts.values()):
            done = ", ".join(f"{n} {w}{'s' if n != 1 else ''}" for w, n in counts.items() if n)
            env.note(
                "request_work",
                f"{name} did the work inside the request ({done}): only enqueue there, "
                "and let the jobs download, resize, store and email",
            )
        total += sum(counts.values())
    return total


def email_errors(run: Run, dataset: data.PipelineData, env: RunEnv) -> int:
    wrong = 0
    for album in dataset.albums:
        problem = email_problem(run, dataset, album["id"])
        if problem is not None:
            if not wrong:
                env.note("email_errors", problem)
            wrong += 1
    return wrong


def email_problem(run: Run, dataset: data.PipelineData, album: int) -> str | None:
    tally, photos = run.tally, dataset.album_images(album)
    sent = tally.count(f"email:{album}")
    if sent == 0:
        return f"album {album} never got its email" + why_no_email(run)
    if sent > 1:
        return (
            f"album {album} got {sent} emails for its {len(photos)} images: send it once, when "
            "the last image is done (a group's completion callback), and make that callback "
            "idempotent"
        )
    at = int(tally.get(f"email-seq:{album}") or b"0")
    late = [p for p in photos if tally.peak(f"last-put:{p}") > at]
    if late:
        return (
            f"album {album}'s email went out before its image {late[0]} was stored "
            f"({len(late)} of its {len(photos)} images came after it): the email must wait "
            "for every image's last stage — put each image's whole chain in the album's group "
            "(a `pipeline` of fetch → resize → store), so the group completes when the last "
            "store does; a group of first stages that each send the next completes when the "
            "last download does"
        )
    named = json.loads(tally.get(f"email-failed:{album}") or b"[]")
    failed = sorted({run.plan.doomed} & set(photos)) if run.plan.doomed else []
    if named != failed and (why := refusals_ate_retries(tally, photos, run.plan.doomed)):
        really = f"only {failed}" if failed else "none of its photos"
        return f"album {album}'s email names {named} as failed, where {really} failed: {why}"
    if named != failed:
        return (
            f"album {album}'s email names {named or 'no image'} as failed, where the photos "
            f"that could not be stored were {failed or 'none'}: mark a photo failed only once "
            "its retries for StorageUnavailable ran out (the dead letter), and name exactly "
            "those"
        )
    return None


def why_no_email(run: Run) -> str:
    first = run.tally.get("first_error")
    if first:
        return f" — the first unexpected error: {first.decode()}"
    if run.plan.doomed and run.tally.count("dead"):
        return (
            f" — an image was dead-lettered ({run.tally.count('dead')} message(s)), and a group's "
            "callback only fires once every child succeeded: let the dead-letter handler "
            "complete the album (or count the album's images yourself)"
        )
    return ""


def bulk_before_album(tally: Tally, dataset: data.PipelineData, env: RunEnv) -> int:
    """Bulk images downloaded (their work begun) before the last album was done —
    emailed, or for an album never emailed, its last photo stored: flat in the
    backlog's size when uploads do not wait behind it."""
    counts = []
    for album in dataset.albums:
        emailed = tally.get(f"bulk-at-email:{album['id']}")
        counts.append(
            int(emailed) if emailed is not None else tally.peak(f"bulk-at-photo:{album['id']}")
        )
    worst = max(counts)
    env.note(
        "bulk_before_album",
        f"with {len(dataset.bulk):,} bulk images queued, {worst:,} of them were begun before "
        "the users' albums were done: put uploads and the re-import on separate queues (and "
        "give the bulk actors a lower priority), so an album does not wait behind the backlog",
    )
    return worst


def peak_uploads(tally: Tally, env: RunEnv) -> int:
    peak = tally.peak("peak_uploads")
    if peak > CDN_LIMIT:
        env.note(
            "peak_uploads",
            f"up to {peak} uploads were in flight at once; the CDN allows {CDN_LIMIT}: hold a "
            f'ConcurrentRateLimiter(rate_limits, "cdn", limit=CDN_LIMIT) around storage.put',
        )
    return peak


def message_errors(tally: Tally, env: RunEnv) -> int:
    if tally.count("sent") == 0:
        env.note("message_errors", "no job was enqueued: the pipeline must run in dramatiq actors")
        return 1
    errors = 0
    if tally.count("non_primitive"):
        example = (tally.get("non_primitive_example") or b"").decode()
        env.note(
            "message_errors",
            f"{tally.count('non_primitive')} messages carried more than ids, e.g. {example}… — "
            "send image and album ids; pass bytes between stages through scratch",
        )
        errors += tally.count("non_primitive")
    if (size := tally.peak("payload_bytes")) > MAX_PAYLOAD:
        env.note(
            "message_errors", f"a message's arguments took {size} bytes (at most {MAX_PAYLOAD})"
        )
        errors += 1
    return errors


def policy_errors(run: Run, env: RunEnv) -> int:
    """The retries really made, and the policy of every actor that met a storage
    failure as dramatiq would apply it (retry_when overrides max_retries)."""
    tally, errors = run.tally, 0
    touched = [a for a in run.actors if tally.get(f"raised-storage:{a.actor_name}") is not None]
    if not run.actors:
        env.note("retry_policy_errors", "no dramatiq actor: nothing retries a failed upload")
        return 1
    if tally.count("runaway_retries"):
        env.note(
            "retry_policy_errors",
            f"a message was still being retried after {RUNAWAY_RETRIES} retries, and the grader "
            f"stopped it: stop after {MAX_RETRIES} retries at most",
        )
        errors += 1
    for actor in touched:
        policy = declared_policy(actor, run.broker, PROBE)
        if math.isinf(policy.retries) or policy.retries > MAX_RETRIES:
            env.note("retry_policy_errors", f"{policy.describe(actor.actor_name)} — at most 5")
            errors += 1
    if (delay := tally.peak("retry_delay_ms")) > MAX_DELAY_MS:
        env.note(
            "retry_policy_errors",
            f"a retry was scheduled {delay / 1000:,.0f} s later; keep every backoff within "
            f"{MAX_DELAY_MS // 1000} s (max_backoff, and min_backoff below it)",
        )
        errors += 1
    return errors
