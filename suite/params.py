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

from suite.errors import UsageError, choices, shown

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
      keyed: whether a landscape's instance (its data, teacher, rotation, and
        the restarts' starts) is drawn anew when this parameter changes. False
        for a parameter that changes only how the instance is used, such as a
        mini-batch size: settings that differ only in it share their draws, so
        their comparison is paired (common random numbers).
    """

    name: str
    type: type
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    keyed: bool = True

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise DeclarationError(f"Param name must be an identifier; given {self.name!r}.")
        if self.type not in _TYPES:
            raise DeclarationError(
                f"Param {self.name!r}: type must be one of float, int, bool, str; "
                f"given {self.type!r}."
            )
        if isinstance(self.choices, list):
            object.__setattr__(self, "choices", tuple(self.choices))

    def validate(self, owner: str) -> None:
        """Checks the declaration itself: doc, bounds, choices and a default within them.

        Raises:
          DeclarationError: one line naming the parameter and ``owner``.
        """
        where = f"parameter {self.name!r} of {owner}"
        if not isinstance(self.doc, str):
            raise DeclarationError(f"{where}: doc must be a string; got {self.doc!r}")
        for bound in ("low", "high"):
            value = getattr(self, bound)
            if value is None:
                continue
            if self.type not in (int, float):
                raise DeclarationError(f"{where}: {bound} is for numbers, not {_TYPES[self.type]}; got {value!r}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                raise DeclarationError(f"{where}: {bound} must be a number; got {value!r}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise DeclarationError(f"{where}: low {self.low!r} is above high {self.high!r}")
        if not isinstance(self.choices, tuple) or not all(isinstance(c, str) for c in self.choices):
            raise DeclarationError(f"{where}: choices must be a list of strings; got {self.choices!r}")
        if self.choices and self.type is not str:
            raise DeclarationError(f"{where}: choices are for strings, not {_TYPES[self.type]}")
        if not isinstance(self.keyed, bool):
            raise DeclarationError(f"{where}: keyed must be true or false; got {self.keyed!r}")
        try:
            self.check(self.default, owner)
        except UsageError:
            raise DeclarationError(f"{where}: default {self.default!r} is not {self.describe()}") from None

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
            try:
                value = float(value)
            except OverflowError:  # an integer beyond every float
                raise self._error(owner, value) from None
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
                f"{', '.join(self.choices)}; got {shown(value)}"
            )
        return value

    def _error(self, owner: str, value: Any) -> UsageError:
        return UsageError(
            f"parameter {self.name!r} of {owner} must be {self.describe()}; got {shown(value)}"
        )


class DeclarationError(UsageError, ValueError):
    """A plugin declared a parameter, sweep or name that cannot work: refused when it registers."""


def declared(params, owner: str) -> tuple[Param, ...]:
    """A plugin's declared parameters, checked: a list of :class:`Param` with distinct names.

    Raises:
      DeclarationError: one line naming the bad declaration and ``owner``.
    """
    if isinstance(params, (str, bytes, dict)) or not hasattr(params, "__iter__"):
        raise DeclarationError(f"{owner}: params must be a list of suite.Param; got {params!r}")
    params = tuple(params)
    for param in params:
        if not isinstance(param, Param):
            raise DeclarationError(f"{owner}: params must be a list of suite.Param; got {param!r} in it")
        param.validate(owner)
    names = [p.name for p in params]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DeclarationError(f"{owner}: parameter {twice[0]!r} is declared twice")
    return params


def declared_values(params: tuple[Param, ...], grid, owner: str, what: str, *, lists: bool) -> dict:
    """A declared ``sweep`` (``lists``: name -> non-empty list of values) or ``test_config``
    (name -> one value), every name declared and every value valid for its parameter.

    Raises:
      DeclarationError: one line naming the bad entry and ``owner``.
    """
    if grid is None:
        return {}
    if not isinstance(grid, dict):
        raise DeclarationError(f"{owner}: {what} must be a dict of parameter names; got {grid!r}")
    by_name = {p.name: p for p in params}
    out = {}
    for name, value in grid.items():
        if name not in by_name:
            raise DeclarationError(f"{owner}: {what} names {name!r}, which is not a declared parameter; "
                                   f"choose from: {choices(by_name)}")
        param = by_name[name]
        if lists and (isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__")):
            raise DeclarationError(f"{owner}: {what} of {name!r} must be a list of values; got {value!r}")
        values = list(value) if lists else [value]
        if lists and not values:
            raise DeclarationError(f"{owner}: {what} of {name!r} is empty; give at least one value")
        # NumPy scalars (a np.logspace sweep) are their Python numbers.
        values = [v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes)) else v for v in values]
        for v in values:
            try:
                param.check(v, owner)
            except UsageError:
                raise DeclarationError(f"{owner}: {what} of {name!r} holds {v!r}, which is not "
                                       f"{param.describe()}") from None
        out[name] = tuple(values) if lists else value
    return out


def lookup(params: tuple[Param, ...], name: str, owner: str) -> Param:
    """The declared parameter called ``name``, or a one-line error."""
    for param in params:
        if param.name == name:
            return param
    raise UsageError(
        f"unknown parameter {name!r} for {owner}; choose from: "
        f"{choices(p.name for p in params)}"
    )
