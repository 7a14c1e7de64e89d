"""L-BFGS with a zoom line search (optax's implementation).

Each step builds a quasi-Newton direction from the last ``memory_size``
gradient and position differences, then searches along it for a step that
satisfies the strong Wolfe conditions. The search evaluates the loss through
the ``value_fn`` the runner passes, so one optimizer step may cost several
loss evaluations: compare it with first-order methods in seconds as well as
in steps.

References:
  Liu, Nocedal, "On the limited memory BFGS method for large scale
  optimization", Mathematical Programming 45, 1989.
  Nocedal, Wright, "Numerical Optimization", 2nd ed., 2006, Algorithms 7.4
  (two-loop recursion) and 3.5-3.6 (zoom line search).
"""

import optax

import suite
from suite import Param
from suite.plugins.grids import learning_rate


def lbfgs(learning_rate, memory_size, max_linesearch_steps):
    """L-BFGS (Liu & Nocedal 1989) with a strong-Wolfe zoom line search on the scaled direction."""
    # A quasi-Newton step tries the unit step first (Nocedal & Wright §3.5), as
    # optax.lbfgs's own default does; zoom's default would keep the last step.
    search = optax.scale_by_zoom_linesearch(max_linesearch_steps=max_linesearch_steps,
                                            initial_guess_strategy="one")
    return optax.lbfgs(learning_rate, memory_size=memory_size, linesearch=search)


@suite.hookimpl
def register_optimizers(register):
    # The line search picks the step length; the learning rate scales the
    # direction it starts from, so a short grid around 1 covers it.
    register("lbfgs", lbfgs, params=[
        learning_rate(1.0),
        Param("memory_size", int, 10, "gradient differences kept for the curvature estimate", low=1),
        Param("max_linesearch_steps", int, 20, "most loss evaluations per line search", low=1),
    ], sweep={"learning_rate": (0.1, 0.3, 1.0)})
