"""All errors qcalo raises on purpose.

Each one carries a single line that names the problem and, where there is one, the fix.
They subclass ``ValueError`` (bad input) so callers that already catch it keep working.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "CircuitError",
    "ConfigError",
    "DatasetError",
    "QcaloError",
    "ShapeError",
]


class QcaloError(ValueError):
    """Base class: bad input or state that the user can fix."""


class CircuitError(QcaloError):
    """A circuit description is invalid (qubit out of range, unknown gate, bad angle)."""


class ShapeError(QcaloError):
    """An array has the wrong shape for the circuit, model or metric."""


class DatasetError(QcaloError):
    """A data file is missing, malformed, or holds values outside the documented range."""


class ConfigError(QcaloError):
    """A configuration value is invalid."""


class CheckpointError(QcaloError):
    """A run directory or checkpoint cannot be used to resume."""
