"""The learner's screen in a real terminal (tmux) at 80×24 and 120×40: the README's
commands run as written, and every word they print is readable — wrapped between words,
never cut at the edge, one view per save in watch."""

from __future__ import annotations

import itertools
import os
import re
import shlex
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from clirun import FEW_ROUNDS, perfkata
from tmuxterm import HANG_GUARD, end_server, need_tmux, tmux

from perfkata.katas.registry import registry

ROOT = Path(__file__).parents[2]
KATA = "n-plus-one-blog"
PARTIAL = ROOT / "tests" / "learners" / "n_plus_one_blog" / "partial_authors.py"
SIZES = [(80, 24), (120, 40)]


@dataclass
class Terminal:
    """A shell in a tmux window of a fixed size, in a folder of its own."""

    name: str
    folder: Path
    width: int
    steps: Iterator[int]

    def screen(self) -> str:
        """Everything shown so far, scrolled-off lines too, as the terminal wrapped it."""
        return tmux(self.name, "capture-pane", "-p", "-S", "-", "-t", self.name)

    def type(self, keys: str) -> None:
        tmux(self.name, "send-keys", "-t", self.name, "-l", keys)
        tmux(self.name, "send-keys", "-t", self.name, "Enter")

    def wait_for(self, pattern: str, after: str = "") -> str:
        """The screen once `pattern` (a regex) shows after the text `after`."""
        deadline = time.monotonic() + HANG_GUARD
        while time.monotonic() < deadline:
            screen = self.screen()
            shown = screen[screen.rfind(after) :] if after else screen
            if after in screen and re.search(pattern, shown, re.M):
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} never appeared; the screen was:\n{self.screen()}")

    def run(self, command: str) -> tuple[str, int]:
        """Run a command at the prompt; its output as shown, and its exit code. The markers
        are split by quotes so the typed command line never matches them."""
        step = next(self.steps)
        self.type(f'echo "@@""begin{step}"; {command}; echo "@@""end{step} $?"')
        shown = self.wait_for(rf"^@@end{step} \d+$", after=f"@@begin{step}\n")
        output, _, code = shown.partition(f"@@end{step} ")
        return output.removeprefix(f"@@begin{step}\n"), int(code.split()[0])


@pytest.fixture(params=SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def terminal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Terminal]:
    need_tmux()
    width, height = request.param
    name = f"perfkata-screen-{uuid.uuid4().hex[:8]}"
    # None of the developer's PERFKATA_* settings (a Redis URL …) reach the learner.
    unset = " ".join(f"-u {key}" for key in os.environ if key.startswith("PERFKATA_"))
    bin_dir = Path(sys.executable).parent
    shell = f"env {unset} -u NO_COLOR PATH={bin_dir}:{os.environ['PATH']} PS1='$ ' bash --norc"
    size = ["-x", str(width), "-y", str(height)]
    tmux(name, "new-session", "-d", "-s", name, *size, "-c", str(tmp_path))
    tmux(name, "set-option", "-t", name, "history-limit", "50000")
    tmux(name, "respawn-pane", "-k", "-t", name, "-c", str(tmp_path), shell)
    yield Terminal(name, tmp_path, width, itertools.count(1))
    end_server(name)


def few_rounds(folder: Path) -> str:
    """perfkata with one timing round (a deterministic 'inconclusive', fast on any machine)."""
    launcher = folder / "few_rounds.py"
    start = "import sys\nfrom perfkata.cli import main\nsys.argv[0] = 'perfkata'\nmain()\n"
    launcher.write_text(FEW_ROUNDS + start)
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(launcher))}"


def brief_words(brief: str) -> list[str]:
    """Every word of the brief a reader must be able to read whole."""
    # a possessive's apostrophe ("tables' keys") is dropped: \b cannot follow it
    words = (w.rstrip("'") for w in re.findall(r"[\w']+", brief))
    return sorted({w for w in words if len(w) > 3 and w[0].isalpha()})


def bullet_last_words(brief: str) -> list[str]:
    items = re.split(r"\n(?=- )", brief)
    return [re.findall(r"\w+", item)[-1] for item in items if item.startswith("- ")]


@pytest.mark.slow
@pytest.mark.parametrize("slug", [kata.slug for kata in registry().all()])
def test_start_shows_the_whole_brief(terminal: Terminal, slug: str) -> None:
    # Given a learner's terminal, When a kata is started
    shown, code = terminal.run(f"perfkata start {slug}")
    # Then it succeeds and every word of the brief is on screen whole (a word cropped
    # at the edge, or split by the terminal's own wrap, would not be)
    assert code == 0, shown
    brief = registry().get(slug).brief
    assert all(len(line) <= terminal.width for line in shown.splitlines())
    missing = [w for w in bullet_last_words(brief) if not re.search(rf"\b{w}\b", shown)]
    assert not missing, f"the end of a bullet is cut off: {missing}\n{shown}"
    missing = [w for w in brief_words(brief) if not re.search(rf"\b{w}\b", shown)]
    assert not missing, f"words cut or missing: {missing}\n{shown}"
    assert f"perfkata-work/{slug}/BRIEF.md" in shown


@pytest.mark.slow
def test_grade_hint_reset_and_bench_at_the_prompt(terminal: Terminal) -> None:
    assert terminal.run(f"perfkata start {KATA}")[1] == 0

    # When the starter is graded without timing, Then the table and What to fix show
    shown, code = terminal.run("perfkata grade --no-timing")
    assert code == 1 and "FAILED: score" in shown, shown
    assert "What to fix:" in shown and "lazily loaded" in shown and "blog.py:22" in shown
    assert "<bool>" not in terminal.run("perfkata --help")[0]

    # And hint and reset need no kata name: the one started last
    shown, code = terminal.run("perfkata hint")
    assert code == 0 and "Hint 1/4" in shown, shown
    (terminal.folder / "perfkata-work" / KATA / "blog.py").write_text("# my attempt\n")
    step = next(terminal.steps)
    terminal.type(f'perfkata reset; echo "@@""end{step} $?"')
    terminal.wait_for(r"\[y/N\]:")
    terminal.type("y")
    shown = terminal.wait_for(rf"^@@end{step} 0$", after="[y/N]")
    assert "Restored the starter" in shown

    # And bench --compare shows the three solutions side by side
    shown, code = terminal.run(f"{few_rounds(terminal.folder)} bench --compare")
    assert code == 0, shown
    header = next(line for line in shown.splitlines() if re.search(r"\bmetric\b", line))
    assert re.search(r"starter.*yours.*reference", header), shown
    assert re.search(r"\blatency\b", shown) and re.search(r"\blazy loads\b", shown)


@pytest.mark.slow
def test_watch_shows_one_view_per_save(terminal: Terminal) -> None:
    # Given a started kata watched, with the timing reduced to one round
    assert terminal.run(f"perfkata start {KATA}")[1] == 0
    terminal.type(f"{few_rounds(terminal.folder)} watch")
    first = terminal.wait_for("^Watching", after="grade 1 ·")
    learner_file = terminal.folder / "perfkata-work" / KATA / "blog.py"

    # When the learner saves a partial fix
    learner_file.write_text(PARTIAL.read_text())
    second = terminal.wait_for("^Watching", after="grade 2 ·")

    # Then each save got one view: one table, its timed rows completed under it, one score
    for view in (first, second):
        assert len(re.findall(r"┃ check\s", view)) == 1, view
        assert view.count("Timing the speed-up") == 1
        assert len(re.findall(r"\bscore \d+/\d+", view)) == 1
        assert "speed-up vs starter:" in view  # the timed row, completing the table
    assert "at blog.py:16" in second and "N+1: Post.author" not in second

    terminal.type("\x03")
    assert "Traceback" not in terminal.wait_for("Stopped watching.")


def test_a_plain_brief_is_wrapped_at_the_width_between_words(tmp_path: Path) -> None:
    # Given a log (not a terminal), When a kata is started
    run = perfkata("start", "cached-catalog", cwd=tmp_path)
    # Then the Markdown is wrapped at 100 columns (clirun's width), a bullet's lines under it
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    prose = [line for line in lines if not line.startswith(("|", "The brief", "Edit "))]
    assert max(len(line) for line in prose) <= 100
    words = brief_words(registry().get("cached-catalog").brief)
    assert all(re.search(rf"\b{w}\b", run.stdout) for w in words)
    bullet = lines.index(next(line for line in lines if line.startswith("- **Never stale")))
    assert lines[bullet + 1].startswith("  ") and not lines[bullet + 1].startswith("   ")
