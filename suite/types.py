"""Type aliases shared across the suite (named aliases, not new classes, as in optax).

Three words are kept apart: a *point* x is what an optimizer moves (``Point``);
*parameter values* are the numbers a landscape or optimizer is built with (a
``dict``); the declared *params* of a spec are its :class:`suite.Param` list.
"""

from typing import Any

import jax

PyTree = Any
PRNGKey = jax.Array
Point = Any  # A landscape point x: an array or any pytree of arrays.
Scalar = jax.Array


def __getattr__(name):
    if name == "Params":
        import warnings

        warnings.warn("suite.types.Params is renamed suite.types.Point (the point x being optimized); "
                      "the old name goes in the next release", DeprecationWarning, stacklevel=2)
        return Point
    raise AttributeError(f"module 'suite.types' has no attribute {name!r}")
