"""The progress line reflects real work: one stage at a time, ended when the next begins,
and timing rounds counted without a bar or an estimate towards the grader's cap."""

import io

from rich.console import Console
from rich.progress import Progress

from perfkata.cli import ProgressReporter


def test_a_stage_ends_when_the_next_begins_and_rounds_have_no_cap():
    # Given the reporter the grade drives (a bar that is never started: no terminal needed)
    bar = Progress(console=Console(file=io.StringIO()))
    report = ProgressReporter(bar)
    # When the grader goes through its stages, as grade.py reports them
    report("starting", 0, 1)
    report("counting statements", 0, 1)
    report("counting statements", 1, 1)
    report("timing rounds", 0, 31)
    report("timing rounds", 5, 31)
    # Then only the stage under way is shown: rounds done, with no total to estimate from
    [task] = bar.tasks
    assert task.description == "timing rounds"
    assert task.fields["detail"] == "5 done"
    assert task.total is None and task.time_remaining is None
