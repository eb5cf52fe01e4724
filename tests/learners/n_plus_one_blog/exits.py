"""Ends the worker process instead of returning."""

import os


def render_index(session):
    os._exit(0)
