"""What each kata's reference achieves over its starter: statements and peak memory at the
largest size (one probed run and one traced run of each, in-process, as the grader's
counting pass does), and the latency speed-up (median of the graders' paired rounds,
from the stability runs — the timing of a single process here would be noisier).

    python benchmarks/headline.py   # statements and memory only
"""

from __future__ import annotations

import sys
from typing import Any

from inprocess import loaded_worker

from perfkata.grader.worker import measure_size
from perfkata.katas.registry import get_kata, registry

SEED = 4242


def counted(slug: str, variant: str) -> dict[str, Any]:
    state = loaded_worker(slug, variant)
    return dict(measure_size(state, get_kata(slug).largest, SEED, memory=True)["counters"])


def ratio(starter: float, reference: float, fewer: str, more: str) -> str:
    if not reference or not starter:
        return "—"
    if starter >= reference:
        return f"{starter / reference:,.1f}× {fewer}"
    return f"{reference / starter:,.1f}× {more}"


def headline_table(slugs: list[str], speedups: dict[str, float]) -> list[str]:
    lines = [
        "| kata (largest size) | statements, starter → reference | peak memory, starter → "
        "reference | latency: reference speed-up over the starter (median) |",
        "|---|---|---|---|",
    ]
    for slug in slugs:
        kata = get_kata(slug)
        found = {v: counted(slug, v) for v in ("starter", "reference")}
        statements = [found[v]["statements"] for v in ("starter", "reference")]
        memory = [found[v]["peak_bytes"] / 1024**2 for v in ("starter", "reference")]
        speedup = speedups.get(slug)
        lines.append(
            f"| {slug} ({kata.largest:,}) "
            f"| {statements[0]:,} → {statements[1]:,} ({ratio(*statements, 'fewer', 'more')}) "
            f"| {memory[0]:.1f} → {memory[1]:.1f} MiB ({ratio(*memory, 'less', 'more')}) "
            f"| {f'{speedup:.1f}×' if speedup else '—'} |"
        )
        print(f"  headline {slug}: {statements} statements, {memory} MiB", file=sys.stderr)
    return lines


if __name__ == "__main__":
    print("\n".join(headline_table([k.slug for k in registry().all()], {})))
