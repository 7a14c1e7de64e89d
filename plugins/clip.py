"""Gradient clipping, the usual remedy for exploding gradients, as a wrapper.

``by=norm`` rescales the whole gradient to norm at most ``threshold`` when it
is longer (Pascanu et al. 2013); ``by=value`` clips every coordinate to
[−threshold, threshold]. Clipping acts on the gradient before the optimizer.

References:
  Pascanu, Mikolov, Bengio, "On the difficulty of training recurrent neural
  networks", ICML 2013, §3.2 (clipping by norm).
  Mikolov, "Statistical language models based on neural networks", PhD
  thesis, Brno 2012, §3.2.5 (clipping by value).
"""

import optax

import suite
from suite import Param


def clip(inner, threshold, by):
    """Gradient clipping (Pascanu et al. 2013) by global norm or by value, before the optimizer."""
    clipping = optax.clip_by_global_norm(threshold) if by == "norm" else optax.clip(threshold)
    return optax.chain(clipping, inner)


@suite.hookimpl
def register_wrappers(register):
    register("clip", clip, params=[
        Param("threshold", float, 1.0, "largest gradient norm (by=norm) or coordinate (by=value)", low=0.0),
        Param("by", str, "norm", "clip the global norm or each value", choices=("norm", "value")),
    ])
