"""Exit codes and the error classes every layer raises.

One root class so the CLI can turn any expected failure into one sentence and an exit
code; anything that is not a PerfkataError is a perfkata bug and keeps its traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    PASSED = 0
    FAILED = 1
    USAGE = 2  # bad input, unreachable service, or an error in the learner's code
    INCONCLUSIVE = 3
    SERVICE = 4  # could not grade: PostgreSQL or Redis failed during the grade
    INTERNAL = 70  # a bug in perfkata itself (EX_SOFTWARE)


class PerfkataError(Exception):
    """An expected failure: one sentence that says what happened and what to do next."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, *, hint: str | None = None, details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details  # a traceback, shown only with --debug

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class UsageError(PerfkataError):
    """The command line asked for something that cannot be done as written."""


class KataNotFound(UsageError):
    """No kata is registered under the requested slug."""


class KataDefinitionError(PerfkataError):
    """A kata declaration is invalid (duplicate slug, unknown option): an author's bug."""

    exit_code = ExitCode.INTERNAL


class WorkspaceError(UsageError):
    """The learner's workspace or one of its files is missing or unusable."""


class ServiceUnavailable(UsageError):
    """A real backend (PostgreSQL, Redis) was asked for and cannot be reached."""


class ServiceFailed(PerfkataError):
    """A real backend failed while a grade was running: not the learner's error, and no
    verdict — the grade could not be completed (exit 4, kind "service" in results)."""

    exit_code = ExitCode.SERVICE

    def __init__(self, service: str, reason: str, url: str | None = None) -> None:
        at = f" at {url}" if url else ""
        super().__init__(
            f"Could not grade: {service}{at} failed during the grade ({reason}).",
            hint=f"This is not your code's fault: check that {service} is running, "
            "then grade again.",
        )
        self.service, self.reason, self.url = service, reason, url


class LearnerCodeError(PerfkataError):
    """The learner's code failed to load or run: reported at the learner's file and line."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        hint: str | None = None,
        details: str = "",
    ) -> None:
        super().__init__(message, hint=hint, details=details)
        self.file = file
        self.line = line


class TamperingDetected(LearnerCodeError):
    """The learner's code forged what the grader reads (a reply, a counter): the kata is
    failed, not merely ungraded, so the exit code is FAILED's."""

    exit_code = ExitCode.FAILED


class InternalError(PerfkataError):
    """perfkata's own harness broke (a worker died for a reason that is not the learner's)."""

    exit_code = ExitCode.INTERNAL
