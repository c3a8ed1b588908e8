"""One validator per fact: config, models, simulator and CLI all check numbers here.

Each raises the caller's error class (default :class:`~qcalo.exceptions.ConfigError`) with one
line naming the value and the fix. ``bool`` is refused where an integer is expected
(``True`` is an ``int`` in Python, never a meaningful count).
"""

from __future__ import annotations

import math
import numbers

from qcalo.exceptions import ConfigError, QcaloError

__all__ = ["finite_float", "int_in_range", "nonnegative_int", "positive_float", "positive_int"]


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def int_in_range(
    value: object,
    name: str,
    low: int,
    high: int | None = None,
    *,
    fix: str = "",
    error: type[QcaloError] = ConfigError,
) -> int:
    """``value`` as an ``int`` with ``low <= value <= high`` (``high=None``: no upper bound)."""
    if not _is_int(value) or value < low or (high is not None and value > high):
        bound = f"an integer ≥ {low}" if high is None else f"an integer from {low} to {high}"
        raise error(f"{name}={value!r}; use {bound}" + (f" {fix}" if fix else ""))
    return int(value)


def positive_int(value: object, name: str, *, fix: str = "", error: type[QcaloError] = ConfigError) -> int:
    """``value`` as an ``int`` ≥ 1."""
    return int_in_range(value, name, 1, fix=fix, error=error)


def nonnegative_int(value: object, name: str, *, fix: str = "", error: type[QcaloError] = ConfigError) -> int:
    """``value`` as an ``int`` ≥ 0."""
    return int_in_range(value, name, 0, fix=fix, error=error)


def finite_float(value: object, name: str, *, fix: str = "", error: type[QcaloError] = ConfigError) -> float:
    """``value`` as a finite ``float``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise error(f"{name}={value!r}; use a finite number" + (f" {fix}" if fix else ""))
    return float(value)


def positive_float(value: object, name: str, *, fix: str = "", error: type[QcaloError] = ConfigError) -> float:
    """``value`` as a finite ``float`` > 0."""
    number = finite_float(value, name, fix=fix, error=error)
    if number <= 0:
        raise error(f"{name}={value!r}; use a number > 0" + (f" {fix}" if fix else ""))
    return number
