"""Calls sys.exit(0) in the middle of rendering and closes its stdout on the way."""

import sys


def render_index(session):
    sys.stdout.close()
    sys.exit(0)
