"""Results files for CI: JSON (perfkata's own schema), JUnit XML (one testcase per
check), GitHub workflow annotations at the learner's lines, and Gradescope's
results.json. Each takes the outcomes of a batch and returns the file's text."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator

from perfkata.bench.thresholds import Outcome
from perfkata.grader.batch import KataOutcome, results_document
from perfkata.grader.results import CheckResult


def check_text(check: CheckResult) -> str:
    """What a failing check says: its diagnostics, then the advice."""
    lines = [d.message for d in check.diagnostics]
    lines.append(f"{check.check.title}: yours {check.yours}, threshold {check.threshold}")
    lines.append(check.check.advice)
    return "\n".join(lines)


def as_json(outcomes: list[KataOutcome]) -> str:
    return json.dumps(results_document(outcomes), indent=2) + "\n"


def as_junit(outcomes: list[KataOutcome]) -> str:
    suites = ET.Element("testsuites", name="perfkata")
    for outcome in outcomes:
        suite = ET.SubElement(suites, "testsuite", name=f"perfkata.{outcome.kata.slug}")
        suite.set("time", f"{outcome.seconds:.2f}")
        cases = list(junit_cases(outcome))
        for case in cases:
            suite.append(case)
        suite.set("tests", str(len(cases)))
        for kind in ("failure", "error", "skipped"):
            count = sum(1 for c in cases if c.find(kind) is not None)
            suite.set(f"{kind}s" if kind != "skipped" else "skipped", str(count))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def junit_cases(outcome: KataOutcome) -> Iterator[ET.Element]:
    classname = f"perfkata.{outcome.kata.slug}"
    if outcome.result is None:
        case = ET.Element("testcase", classname=classname, name="grade")
        assert outcome.error is not None
        ET.SubElement(case, "error", message=outcome.error.message).text = outcome.error.message
        yield case
        return
    for check in outcome.result.checks:
        case = ET.Element("testcase", classname=classname, name=f"{check.check.id}")
        case.set("points", f"{check.points}/{check.check.points}")
        if check.outcome is Outcome.NOT_RUN:
            ET.SubElement(case, "skipped", message="not run")
        elif not check.passed:
            first = check.diagnostics[0].message if check.diagnostics else check.check.advice
            kind = "failure" if check.outcome is Outcome.FAIL else "error"
            ET.SubElement(case, kind, message=first).text = check_text(check)
        yield case


def as_github(outcomes: list[KataOutcome]) -> str:
    """Workflow commands: an ::error at the learner's file and line where one is known."""
    lines = []
    for outcome in outcomes:
        title = f"perfkata {outcome.kata.slug}"
        if outcome.error is not None:
            lines.append(
                annotation(title, outcome.error.message, outcome.error.file, outcome.error.line)
            )
            continue
        assert outcome.result is not None
        for check in outcome.result.checks:
            if check.passed or check.outcome is Outcome.NOT_RUN:
                continue
            where = next((d for d in check.diagnostics if d.file), None)
            file = where.file if where else outcome.result.solution
            lines.append(
                annotation(
                    f"{title}: {check.check.title}",
                    check_text(check),
                    file,
                    where.line if where else None,
                )
            )
        lines.append(
            f"::notice title={title}::{outcome.verdict}, score {outcome.score}/{outcome.max_score}"
        )
    return "\n".join(lines) + "\n"


def annotation(title: str, message: str, file: str | None, line: int | None) -> str:
    place = ""
    if file:
        place = f"file={relative(file)},"
        if line:
            place += f"line={line},"
    return f"::error {place}title={escape_property(title)}::{escape_data(message)}"


def relative(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def as_gradescope(outcomes: list[KataOutcome]) -> str:
    """Gradescope autograder results.json: one test per check, with score and output."""
    tests = []
    for outcome in outcomes:
        if outcome.result is None:
            assert outcome.error is not None
            tests.append(
                {
                    "name": f"{outcome.kata.slug}: grade",
                    "score": 0,
                    "max_score": outcome.max_score,
                    "status": "failed",
                    "output": outcome.error.message,
                }
            )
            continue
        gated = outcome.result.gate_failed
        for check in outcome.result.checks:
            tests.append(
                {
                    "name": f"{outcome.kata.slug}: {check.check.title}",
                    "score": 0 if gated else check.points,
                    "max_score": check.check.points,
                    "status": "passed" if check.passed else "failed",
                    "output": "" if check.passed else check_text(check),
                }
            )
    document = results_document(outcomes)
    summary = f"perfkata: {document['score']}/{document['max_score']}"
    return (
        json.dumps({"score": document["score"], "output": summary, "tests": tests}, indent=2) + "\n"
    )


RENDERERS: dict[str, Callable[[list[KataOutcome]], str]] = {
    "json": as_json,
    "junit": as_junit,
    "github": as_github,
    "gradescope": as_gradescope,
}
