"""`perfkata bench --html FILE`: one self-contained page — the comparison and scaling
tables, a chart per metric across dataset sizes and the latency distributions as
inline SVG (pygal, without its external scripts), and the diagnostics. Nothing is
fetched when it is opened."""

from __future__ import annotations

import html
from collections.abc import Sequence

import pygal

from perfkata.grader import compare
from perfkata.grader.results import GradeResult

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.chart { width: 34rem; }
.chart svg { width: 100%; height: auto; }
li { margin: .3rem 0; }
"""
LABELS = {"starter": "starter", "learner": "yours", "reference": "reference"}


def render_html(result: GradeResult) -> str:
    title = f"perfkata bench — {result.kata.slug}"
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(result.solution)} · seed {result.seed} · "
        f"{html.escape(result.backend)}</p>",
        "<h2>At the largest dataset</h2>",
        table(
            ("metric", "starter", "yours", "reference", "vs starter", "vs ref"),
            compare.comparison_rows(result),
        ),
    ]
    scaling = compare.scaling_rows(result)
    if scaling:
        parts += [
            "<h2>How each grows</h2>",
            table(("metric", "starter", "yours", "reference"), scaling),
        ]
    parts += ["<h2>Charts</h2>", '<div class="charts">', *charts(result), "</div>"]
    parts += ["<h2>What to fix</h2>", diagnostics(result)]
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def table(headers: Sequence[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def svg(chart: pygal.Graph) -> str:
    return f'<div class="chart">{chart.render(is_unicode=True)}</div>'


def options(title: str) -> dict[str, object]:
    return {
        "title": title,
        "js": [],  # no external script: the page must work offline
        "disable_xml_declaration": True,
        "width": 640,
        "height": 360,  # the viewBox: the page scales the chart to its box
    }


def charts(result: GradeResult) -> list[str]:
    sizes = sorted(result.measurements["learner"].counters)
    made = []
    if len(sizes) > 1:
        for metric in compare.numeric_metrics(result):
            title = f"{compare.label(result.kata, metric)} by dataset size"
            chart = pygal.Line(**options(title))
            chart.x_labels = [f"{s:,}" for s in sizes]
            for variant, label in LABELS.items():
                counters = result.measurements[variant].counters
                chart.add(label, [numeric(counters[s].get(metric)) for s in sizes])
            made.append(svg(chart))
    if result.timing is not None:
        box = pygal.Box(**options("latency per call (ms), every timed round"))
        for variant, label in LABELS.items():
            box.add(label, [s * 1000 for s in result.timing.samples[variant]])
        made.append(svg(box))
    return made


def numeric(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def diagnostics(result: GradeResult) -> str:
    items = [
        f"<li><b>{html.escape(check.check.title)}</b>: {html.escape(d.message)}</li>"
        for check in result.checks
        if not check.passed
        for d in check.diagnostics
    ]
    return f"<ul>{''.join(items)}</ul>" if items else "<p>Nothing: every check passes.</p>"
