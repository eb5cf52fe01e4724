"""SQL text as diagnostics show it: normalised, so that one statement written with its
values inline (an f-string, a raw driver call) groups with itself however many rows it
ran for, and shortened to one line with its parameters elided, so no value of the
learner's data (or of the hidden dataset) is ever printed."""

from __future__ import annotations

import re

# string literals first (they may hold digits), then numbers not part of a name
_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![\w.$])-?\d+(?:\.\d+)?(?![\w.])")
_PLACEHOLDER = re.compile(r"%\(\w+\)s|%s|:\w+|\$\d+|\?")
# an IN list of placeholders, however long: one shape for any batch size
_IN_LIST = re.compile(r"\bIN\s*\(\s*\?(?:\s*,\s*\?)*\s*\)", re.IGNORECASE)
_POSTCOMPILE = re.compile(r"\(\s*__\[POSTCOMPILE_\w+\]\s*\)")
_SPACE = re.compile(r"\s+")
WRITE_VERBS = ("DELETE", "UPDATE", "INSERT")


def normalised(statement: str) -> str:
    """One line, every literal and parameter a `?`, every IN list `IN (?)`."""
    text = _SPACE.sub(" ", statement).strip().rstrip(";").strip()
    text = _STRING.sub("?", text)
    text = _NUMBER.sub("?", text)
    text = _PLACEHOLDER.sub("?", text)
    text = _POSTCOMPILE.sub("(?)", text)
    return _IN_LIST.sub("IN (?)", text)


def example(statement: str, width: int = 160) -> str:
    """The normalised statement, cut at `width` characters (a long column list says
    nothing more after its first columns)."""
    text = normalised(statement)
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def verb(statement: str) -> str:
    """The statement's first word, upper case ("SELECT", "DELETE" …); a CTE is read by
    what follows it only when it is a write."""
    words = statement.lstrip().split(None, 1)
    first = words[0].upper() if words else ""
    if first == "WITH":
        found = re.search(r"\)\s*(DELETE|UPDATE|INSERT|SELECT)\b", statement, re.IGNORECASE)
        return found.group(1).upper() if found else "SELECT"
    return first


def is_write(statement: str) -> bool:
    return verb(statement) in WRITE_VERBS


_TABLE = {
    "DELETE": re.compile(r"\bDELETE\s+FROM\s+([\w.\"]+)", re.IGNORECASE),
    "UPDATE": re.compile(r"\bUPDATE\s+([\w.\"]+)", re.IGNORECASE),
    "INSERT": re.compile(r"\bINSERT\s+(?:OR\s+\w+\s+)?INTO\s+([\w.\"]+)", re.IGNORECASE),
}


def written_table(statement: str) -> str | None:
    """The table a DELETE, UPDATE or INSERT writes (without a schema), else None."""
    pattern = _TABLE.get(verb(statement))
    found = pattern.search(statement) if pattern else None
    return found.group(1).replace('"', "").split(".")[-1] if found else None
