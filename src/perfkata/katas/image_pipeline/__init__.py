"""The image-pipeline kata: move an album's processing out of the upload request into
dramatiq — a chain per image, a group per album whose completion callback emails the
owner exactly once, a fast queue that the bulk re-import cannot clog, a rate limit on
the CDN, bounded retries and a dead letter that still lets the album's email go out."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from perfkata.katas.base import Check, define_kata
from perfkata.katas.effects import TimedEffect

# processes: imported now, not first when jobs run on Redis, so the audit hook's
# snapshot, taken once the kata is loaded, covers it too.
from perfkata.katas.image_pipeline import data, processes  # noqa: F401
from perfkata.katas.image_pipeline.app import CDN_LIMIT
from perfkata.katas.image_pipeline.models import Base
from perfkata.katas.image_pipeline.scenarios import (
    bulk_drained,
    redelivered,
    run_story,
    timed_uploads,
    uploads_effect,
    verify_uploads,
)
from perfkata.katas.report_worker.jobs import placeholder_broker
from perfkata.katas.report_worker.workload import report_services

TIMED_EFFECTS = {"timed": TimedEffect(uploads_effect, verify_uploads)}
# The jobs race a backlog that is never drained: how much of it ran (its statements
# with it) and how many uploads overlapped vary run to run; the rubric judges them by
# a fit and a bound, never by equality, so `dev check` leaves them out.
NOT_DETERMINISTIC = (
    "statements",
    "orm_statements",
    "driver_statements",
    "bypassed_statements",
    "lazy_loads",
    "bulk_before_album",
    "peak_uploads",
)


def verify_albums(dataset: data.PipelineData, output: Any) -> str | None:
    """Every album photo that can be stored is stored exactly once in each size, with
    the right content; the photo that can never be stored is not."""
    photos = [i for a in dataset.albums for i in dataset.album_images(a["id"])]
    expected = data.expected_files(dataset, [p for p in photos if p != dataset.doomed])
    stored, puts = output.get("files", {}), output.get("puts", {})
    for key, digest in expected.items():
        if key not in stored:
            error = output.get("first_error")
            return f"{key} was never stored" + (f" — {error}" if error else "")
        if stored[key] != digest:
            return f"{key} holds the wrong content: resize the image's own original to that size"
        if puts.get(key, 0) > 1:
            return (
                f"{key} was stored {puts[key]} times: a retry, or a message delivered again, "
                "stored what was already stored — ask storage.exists(key) before each upload"
            )
    return None


HINTS = (
    "Make the requests only enqueue: upload_album sends the album's work to actors by id, "
    "reimport sends each legacy image's work — with ids in the messages, never bytes or "
    "rows. Hand bytes from one stage to the next through scratch.save / scratch.load.",
    "One chain per image: `pipeline([fetch.message(i), resize.message_with_options("
    "pipe_ignore=True, args=(i,)), store.message_with_options(pipe_ignore=True, "
    "args=(i,))])`. Make store idempotent (`if not storage.exists(key)`) and give it "
    "`max_retries=3, min_backoff=100, max_backoff=2000`.",
    "One group per album, emailed once: `g = group(chains); "
    "g.add_completion_callback(album_done.message(album_id)); g.run()`, with "
    "`dramatiq.get_broker().add_middleware(GroupCallbacks(rate_limits))` at import. In "
    "album_done, skip an album already emailed (mark it in the database first).",
    "Two queues: the album actors on queue_name='uploads', the re-import's on "
    "queue_name='bulk' (priority=100 there too). Around storage.put, wait for one of the "
    "CDN's slots: `CDN = ConcurrentRateLimiter(rate_limits, 'cdn', limit=CDN_LIMIT)`, then "
    "loop on `with CDN.acquire(raise_on_failure=False) as ok:` (sleep 2 ms when not ok). "
    "A plain `with CDN.acquire():` raises RateLimitExceeded, and every refusal uses up "
    "one of the message's retries.",
    "A photo that never stores: on_retry_exhausted='image_failed' on store; image_failed "
    "(message_data, retry_info) marks the image failed, then completes its album's group "
    "on its behalf — send a message with the failed message's options "
    "`group_completion_uuid` and `group_completion_callbacks` — so album_done still runs "
    "and names the failed image in mail.album_ready(album_id, failed=[...]).",
)

KATA = define_kata(
    slug="image-pipeline",
    title="The album upload that resizes every photo inside the request",
    difficulty="advanced",
    summary="Chains, groups, queues and rate limits with dramatiq: one email per album.",
    files=("pipeline.py",),
    entry_points=("upload_album", "reimport"),
    sizes=(250, 1000, 2000),
    hints=HINTS,
    brief=files(__package__).joinpath("brief.md").read_text(encoding="utf-8"),
    models=Base,
    generate=data.generate,
    load=data.load,
    verify=verify_albums,
    workload=run_story,
    timed=timed_uploads,
    timing_size=250,
    environment=report_services,
    scenarios={"bulk-drained": bulk_drained, "redelivered": redelivered},
    extras={"timed_effects": TIMED_EFFECTS, "not_deterministic": NOT_DETERMINISTIC},
    mutates_data=True,
    prepare=placeholder_broker,
    rubric=(
        Check.of(
            "correct",
            "photos stored once per size",
            "correct",
            "==1",
            10,
            "Store every size of every photo exactly once, resized from its own original.",
            gate=True,
        ),
        Check.of(
            "request-work",
            "work done inside requests",
            "request_work",
            "==0",
            10,
            "upload_album and reimport should only enqueue: download, resize, store and "
            "email in the jobs.",
        ),
        Check.of(
            "emails",
            "albums not emailed exactly once, after their last photo",
            "email_errors",
            "==0",
            15,
            "One email per album, from a callback that runs when every photo is done, naming "
            "the photos that failed.",
        ),
        Check.of(
            "backlog",
            "bulk images begun before the albums were done, vs backlog",
            "bulk_before_album:capped_growth",
            # the starter and one queue: 1 per backlog image (all of it begun first); two
            # queues: flat — 50 to 210 begun meanwhile, from 250 to 2,000 queued (slopes
            # -0.03 to 0.03 measured), so 0.25 leaves room for noise and is 4x below O(N).
            # Capped: a backlog that ran out says nothing of the slope. An album retried
            # 20 times (dramatiq's default) waits ~1 s, while ~900 bulk images begin on an
            # idle 2-core machine: 250 (all), ~900, ~900 fitted whole is 0.35 (steeper on a
            # faster CPU); without the capped 250 it is flat, and stays under 0.25 until
            # ~1,250 begin (a CPU ~1.4x this one's): its retries check is what fails it
            "slope<=0.25",
            15,
            "Upload work on its own queue, the re-import on a bulk queue (and a lower "
            "priority there: in dramatiq a higher number, e.g. priority=100).",
        ),
        Check.of(
            "rate-limit",
            "most uploads in flight at once",
            "peak_uploads",
            f"<={CDN_LIMIT}",
            10,
            f"The CDN allows {CDN_LIMIT} concurrent uploads: a ConcurrentRateLimiter around "
            "storage.put.",
        ),
        Check.of(
            "messages",
            "message problems",
            "message_errors",
            "==0",
            # a central lesson: a photo's bytes in a message fill the broker's memory and
            # break its size limits — worth as much as the CDN's limit, more than the
            # re-import's drain (whose stores the gate already judges on the albums)
            10,
            "Send ids (JSON primitives, short lists of them), never bytes, rows or dicts.",
        ),
        Check.of(
            "retries",
            "retry policy problems",
            "retry_policy_errors",
            "==0",
            5,
            "Actors that upload: at most 5 retries (max_retries, or retry_when), backoffs "
            "within 30 s.",
        ),
        Check.of(
            "idempotent-callback",
            "second emails when a message is delivered twice",
            "callback_errors",
            "==0",
            10,
            "Mark the album emailed before (or atomically with) sending; skip it when marked.",
        ),
        Check.of(
            "bulk",
            "re-imported sizes missing or stored twice",
            "bulk_errors",
            "==0",
            5,
            "The re-import must store every size of every legacy image, once.",
        ),
        Check.of(
            "speedup",
            "upload request speed-up vs starter",
            "speedup",
            ">=0.04*ref & >=2",
            10,
            "The upload request should only enqueue the album's group.",
        ),
    ),
)
