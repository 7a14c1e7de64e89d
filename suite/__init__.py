"""suite: optimizers on synthetic loss landscapes, thousands of restarts at once.

For researchers: ``suite.run(...)`` runs a benchmark and ``suite.load(run_dir)``
reads one back, each as a :class:`suite.api.Run` (tables, leaderboard, report).
For plugin authors: ``hookimpl``, ``Param`` and ``Landscape``; see
``suite.hookspecs`` for the hooks (landscapes, optimizers, optimizer wrappers,
report sections).
"""

import pluggy

from suite.params import Param
from suite.specs import Landscape, LandscapeSpec, OptimizerSpec, WrapperSpec

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("suite")

__all__ = ["Landscape", "LandscapeSpec", "OptimizerSpec", "Param", "Run", "WrapperSpec", "hookimpl", "load",
           "resume", "run", "__version__"]

_API = ("Run", "load", "resume", "run")


def __getattr__(name):
    # The run API pulls in the runner, pandas and the rest; a plugin that only
    # needs `hookimpl` and `Param` does not pay for it at import.
    if name in _API:
        from suite import api

        return getattr(api, name)
    raise AttributeError(f"module 'suite' has no attribute {name!r}")
