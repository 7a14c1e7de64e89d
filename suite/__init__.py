"""suite: optimizers on synthetic loss landscapes, thousands of restarts at once.

For researchers: ``suite.run(...)`` runs a benchmark and ``suite.load(run_dir)``
reads one back, each as a :class:`suite.api.Run` (tables, leaderboard, report);
``suite.run_study(name, size=...)`` reproduces a published claim with a verdict.
For plugin authors: ``hookimpl``, ``Param`` and ``Landscape``; see
``suite.hookspecs`` for the hooks (landscapes, optimizers, optimizer wrappers,
report sections, studies).
"""

import pluggy

from suite.params import Param

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("suite")

__all__ = ["Landscape", "LandscapeSpec", "OptimizerSpec", "Param", "Run", "WrapperSpec", "compare", "extend",
           "hookimpl", "load", "resume", "run", "run_study", "__version__"]

_API = ("Run", "compare", "extend", "load", "resume", "run")
_SPECS = ("Landscape", "LandscapeSpec", "OptimizerSpec", "WrapperSpec")


def __getattr__(name):
    # The run API pulls in the runner, pandas and the rest, and the specs pull
    # in JAX; `import suite` (and so the `suite` command before it parses its
    # arguments and watches Ctrl-C) pays for neither until they are used.
    if name in _API:
        from suite import api

        return getattr(api, name)
    if name == "run_study":
        from suite import study_api

        return study_api.run_study
    if name in _SPECS:
        from suite import specs

        return getattr(specs, name)
    raise AttributeError(f"module 'suite' has no attribute {name!r}")
