"""Fault tests run perfkata as a learner or CI does: through tests/cli/clirun.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cli"))
