"""Typed, documented parameters of landscapes and optimizers.

A :class:`Param` declares one parameter: its name, Python type, default, one line
of doc, and optional bounds or choices. It turns command-line text and TOML
values into checked values, with one-line errors that name the bad item.

Float parameters of optimizers are *traced*: they enter the compiled program as
arrays, so sweeping them compiles nothing new. Integer, boolean and string
parameters shape the program and are static.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from suite.errors import UsageError, choices

_TYPES = {float: "a float", int: "an integer", bool: "a boolean", str: "a string"}
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclasses.dataclass(frozen=True)
class Param:
    """One declared parameter.

    Attributes:
      name: identifier used on the command line and in configs.
      type: one of ``float``, ``int``, ``bool``, ``str``.
      default: value used when the user gives none.
      doc: one line saying what the parameter does.
      low, high: inclusive bounds for numbers (``None``: unbounded).
      choices: the allowed values of a string parameter (empty: any).
    """

    name: str
    type: type
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    def __post_init__(self):
        if self.type not in _TYPES:
            raise ValueError(
                f"Param {self.name!r}: type must be one of float, int, bool, str; "
                f"given {self.type!r}."
            )
        if not self.name.isidentifier():
            raise ValueError(f"Param name must be an identifier; given {self.name!r}.")

    @property
    def traced(self) -> bool:
        """Whether the value can be an array inside a compiled program."""
        return self.type is float

    def describe(self) -> str:
        """The type with its bounds, for listings and error messages."""
        text = _TYPES[self.type]
        if self.choices:
            text = "one of " + ", ".join(self.choices)
        elif self.low is not None and self.high is not None:
            text += f" in [{self.low:g}, {self.high:g}]"
        elif self.low is not None:
            text += f" >= {self.low:g}"
        elif self.high is not None:
            text += f" <= {self.high:g}"
        return text

    def parse(self, text: str, owner: str) -> Any:
        """Converts command-line text to a checked value."""
        raw = text.strip()
        try:
            if self.type is bool:
                low = raw.lower()
                if low not in _TRUE | _FALSE:
                    raise ValueError
                value: Any = low in _TRUE
            elif self.type is int:
                value = int(raw)
            elif self.type is float:
                value = float(raw)
            else:
                value = raw
        except ValueError:
            raise self._error(owner, raw) from None
        return self.check(value, owner)

    def check(self, value: Any, owner: str) -> Any:
        """Checks a value from a config file (or from :meth:`parse`)."""
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not self.type:
            raise self._error(owner, value)
        if self.type is float and not math.isfinite(value):
            raise self._error(owner, value)
        if self.low is not None and value < self.low:
            raise self._error(owner, value)
        if self.high is not None and value > self.high:
            raise self._error(owner, value)
        if self.choices and value not in self.choices:
            raise UsageError(
                f"parameter {self.name!r} of {owner} must be one of "
                f"{', '.join(self.choices)}; got {value!r}"
            )
        return value

    def _error(self, owner: str, value: Any) -> UsageError:
        return UsageError(
            f"parameter {self.name!r} of {owner} must be {self.describe()}; got {value!r}"
        )


def lookup(params: tuple[Param, ...], name: str, owner: str) -> Param:
    """The declared parameter called ``name``, or a one-line error."""
    for param in params:
        if param.name == name:
            return param
    raise UsageError(
        f"unknown parameter {name!r} for {owner}; choose from: "
        f"{choices(p.name for p in params)}"
    )
