"""Shared parameters and default sweep grids of the built-in optimizers (not a plugin).

Every built-in optimizer sweeps the learning rate on a half-decade grid
(factor √10 ≈ 3.16): the leaderboard takes each at its best grid point, so the
grids decide how fairly optimizers are tuned. Two grids, both 11 points wide:

* ``GRADIENT_SCALED``, 1e-4 … 10, for methods whose step is proportional to
  the gradient (GD, momentum, Adagrad, Adadelta): their best rate is 1/L,
  which spans decades across landscapes (≈0.1·N on an N-spin p-spin).
* ``SCALE_FREE``, 1e-5 … 1, for methods whose step size is about the learning
  rate whatever the gradient's scale (Adam and its kin, RMSprop, sign methods).

A grid is declared once, per optimizer, for every landscape: no optimizer gets
a range hand-picked for a landscape.
"""

from suite import Param


def half_decades(low_exponent: int, high_exponent: int) -> tuple[float, ...]:
    """1, 3, 10, 30, ... between 10^low and 10^high, as round numbers: (1e-4, 3e-4, ..., 10)."""
    grid = []
    for e in range(low_exponent, high_exponent + 1):
        grid.append(float(f"1e{e}"))
        if e < high_exponent:
            grid.append(float(f"3e{e}"))
    return tuple(grid)


GRADIENT_SCALED = half_decades(-4, 1)
SCALE_FREE = half_decades(-5, 0)


def learning_rate(default: float) -> Param:
    """The ``learning_rate`` parameter every built-in declares, with its own default."""
    return Param("learning_rate", float, default, "step size", low=0.0)
