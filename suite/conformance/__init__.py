"""The conformance battery: what every landscape, optimizer and wrapper must do, checked.

``suite check NAME`` runs it on one registered plugin and prints each check
with the reason it failed; the test suite runs it on every installed plugin.
Checks are small functions that raise :class:`Failed` (or any exception) to
fail and :class:`Skipped` when they do not apply; each runs on its own, so one
failure never hides the others.
"""

from suite.conformance._battery import Failed, Result, Skipped, resolution
from suite.conformance.landscapes import (
    N_BOUND,
    N_PROBES,
    N_STARTS,
    PROBE_SCALES,
    PROBE_STEPS,
    ULPS,
    check_landscape,
)
from suite.conformance.optimizers import MIN_SWEEP, check_optimizer, check_wrapper, run_on_quadratic

__all__ = [
    "MIN_SWEEP",
    "N_BOUND",
    "N_PROBES",
    "N_STARTS",
    "PROBE_SCALES",
    "PROBE_STEPS",
    "ULPS",
    "Failed",
    "Result",
    "Skipped",
    "check_landscape",
    "check_optimizer",
    "check_wrapper",
    "resolution",
    "run_on_quadratic",
]
