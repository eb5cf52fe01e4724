"""Runs katas on solutions and judges them: worker processes, interleaved timing,
rubric evaluation, verdicts and report renderers."""
