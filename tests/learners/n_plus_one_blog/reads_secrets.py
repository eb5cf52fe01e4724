"""Reads the grader's environment: a token set for the CI job must not be visible."""

import os

from perfkata.katas.n_plus_one_blog.models import Post  # noqa: F401


def render_index(session):
    leaked = sorted(k for k in os.environ if "SECRET" in k or k.startswith("PERFKATA_"))
    raise RuntimeError(f"environment seen: {leaked}")
