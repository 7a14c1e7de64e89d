"""suite: optimizers on synthetic loss landscapes, thousands of restarts at once.

The public interface for plugin authors is ``hookimpl``, ``Param`` and
``Landscape``; see ``suite.hookspecs`` for the hooks (landscapes, optimizers
and optimizer wrappers).
"""

import pluggy

from suite.params import Param
from suite.specs import Landscape, LandscapeSpec, OptimizerSpec, WrapperSpec

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("suite")

__all__ = ["Landscape", "LandscapeSpec", "OptimizerSpec", "Param", "WrapperSpec", "hookimpl", "__version__"]
