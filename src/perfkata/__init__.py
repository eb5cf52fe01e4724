"""perfkata: a command-line dojo that teaches backend performance by grading it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("perfkata")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
