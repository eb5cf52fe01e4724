"""Compare a solution's output with the oracle's, and say where the first difference is."""

from __future__ import annotations

from typing import Any


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_difference(expected: Any, actual: Any, where: str = "the output") -> str | None:
    """None when equal; otherwise one sentence naming the first place they differ."""
    if expected == actual:
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
            found = first_difference(want, got, f"item {index}")
            if found:
                return found
        return f"{where} has {len(actual)} items; expected {len(expected)}"
    if isinstance(expected, dict) and isinstance(actual, dict):
        missing = [k for k in expected if k not in actual]
        if missing:
            return f"{where} lacks the key {missing[0]!r}"
        extra = [k for k in actual if k not in expected]
        if extra:
            return f"{where} has an unexpected key {extra[0]!r}"
        for key in expected:
            if expected[key] != actual[key]:
                return (
                    f"{where}, key {key!r}: expected {_short(expected[key])}, "
                    f"got {_short(actual[key])}"
                )
    return f"{where}: expected {_short(expected)}, got {_short(actual)}"
