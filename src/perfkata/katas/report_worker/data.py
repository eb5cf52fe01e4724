"""The dataset and its fault plan: which uploads fail once, which reports are deleted
before their job runs, which can never be stored, and the one upload that succeeds but
whose answer is lost. Every choice comes from the seed, so each grade differs."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from perfkata.katas.report_worker.models import Report, User

METRICS = ("revenue", "orders", "refunds", "visits", "signups", "churn", "latency_p95")
DOOMED = 3  # uploads the storage refuses every time: retries run out


@dataclass(frozen=True)
class ReportData:
    users: list[dict[str, Any]]
    reports: list[dict[str, Any]]
    flaky: frozenset[int]  # the first upload attempt raises NetworkError
    deleted: frozenset[int]  # deleted after it was requested, before its job runs
    doomed: frozenset[int]  # every upload attempt fails
    ambiguous: int  # the first upload is stored, then the connection drops


def file_key(report_id: int) -> str:
    return f"reports/{report_id:05d}.pdf"


def generate(size: int, seed: int) -> ReportData:
    rng = random.Random(seed)
    users = [{"id": i, "name": f"user-{rng.randrange(10**6):06d}"} for i in range(1, size // 4 + 2)]
    reports = [_report(rng, i, len(users)) for i in range(1, size + 1)]
    ids = [r["id"] for r in reports]
    rng.shuffle(ids)
    deleted = frozenset(ids[: size // 20])
    doomed = frozenset(ids[size // 20 : size // 20 + DOOMED])
    ambiguous = ids[size // 20 + DOOMED]
    rest = ids[size // 20 + DOOMED + 1 :]
    flaky = frozenset(rng.sample(rest, int(len(ids) * 0.3)))
    return ReportData(users, reports, flaky, deleted, doomed, ambiguous)


def _report(rng: random.Random, report_id: int, users: int) -> dict[str, Any]:
    params = {
        "period": {"from": f"2027-0{rng.randint(1, 6)}-01", "to": "2027-07-01"},
        "metrics": rng.sample(METRICS, 4),
        "filters": {"country": rng.choice(["DE", "FR", "NL", "PL", "SE"]), "plan": "pro"},
        "group_by": ["week", "country"],
        "notes": "quarterly review for the board, figures in EUR, weeks start on Monday",
    }
    return {
        "id": report_id,
        "owner_id": rng.randint(1, users),
        "params": json.dumps(params, sort_keys=True),
        "status": "pending",
        "file_key": file_key(report_id),
    }


def load(session: Session, data: ReportData) -> None:
    session.execute(insert(User), data.users)
    session.execute(insert(Report), data.reports)
    session.commit()


def render(params: str, owner: str) -> bytes:
    """The "PDF": a page per metric and a checksum that costs real CPU, as layout does."""
    spec = json.loads(params)
    pages = [f"%PDF-kata\nReport for {owner}\n"]
    for metric in spec["metrics"]:
        rows = "\n".join(f"{week:02d} {metric} {len(metric) * week}" for week in range(1, 27))
        pages.append(f"== {metric} by {', '.join(spec['group_by'])}\n{rows}\n")
    body = "".join(pages).encode()
    digest = hashlib.pbkdf2_hmac("sha256", body, owner.encode(), 2000).hex()
    return body + f"%%checksum {digest}\n".encode()


def expected_files(data: ReportData) -> dict[str, str]:
    """The oracle: the sha256 of every report's file, rendered independently of the learner."""
    owners = {u["id"]: u["name"] for u in data.users}
    return {
        r["file_key"]: hashlib.sha256(render(r["params"], owners[r["owner_id"]])).hexdigest()
        for r in data.reports
    }
