"""Formatting of wrapped errors for the data modules (private)."""

from __future__ import annotations

__all__ = ["one_line"]


def one_line(error: BaseException, limit: int = 200) -> str:
    """Collapse an exception message to one short line for a wrapping error."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
