"""Adam and its descendants: per-coordinate steps scaled by running moments of the gradient.

References:
  Kingma, Ba, "Adam: A method for stochastic optimization", arXiv:1412.6980, 2014.
  Loshchilov, Hutter, "Decoupled weight decay regularization" (AdamW), ICLR 2019.
  Dozat, "Incorporating Nesterov momentum into Adam" (NAdam), ICLR workshop 2016.
  Reddi, Kale, Kumar, "On the convergence of Adam and beyond" (AMSGrad), ICLR 2018.
  Liu et al., "On the variance of the adaptive learning rate and beyond" (RAdam), ICLR 2020.
  Zhuang et al., "AdaBelief optimizer: adapting stepsizes by the belief in
  observed gradients", NeurIPS 2020.
  Zaheer, Reddi, Sachan, Kale, Kumar, "Adaptive methods for nonconvex
  optimization" (Yogi), NeurIPS 2018.
"""

import optax

import suite
from suite import Param
from suite.plugins.grids import SCALE_FREE, learning_rate

B1 = Param("b1", float, 0.9, "decay of the first-moment estimate", low=0.0, high=1.0)
B2 = Param("b2", float, 0.999, "decay of the second-moment estimate", low=0.0, high=1.0)


def _eps(default):
    return Param("eps", float, default, "added to the root second moment for stability", low=0.0)


PARAMS = (learning_rate(1e-3), B1, B2, _eps(1e-8))
WEIGHT_DECAY = Param("weight_decay", float, 1e-4, "decoupled decay: x ← x − η λ x each step", low=0.0)


def adam(learning_rate, b1, b2, eps):
    """Adam (Kingma & Ba 2014) with bias-corrected moment estimates."""
    return optax.adam(learning_rate, b1=b1, b2=b2, eps=eps)


def adamw(learning_rate, b1, b2, eps, weight_decay):
    """AdamW (Loshchilov & Hutter 2019): Adam with weight decay decoupled from the gradient."""
    return optax.adamw(learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)


def nadam(learning_rate, b1, b2, eps):
    """NAdam (Dozat 2016): Adam with a Nesterov look-ahead on the first moment."""
    return optax.nadam(learning_rate, b1=b1, b2=b2, eps=eps)


def amsgrad(learning_rate, b1, b2, eps):
    """AMSGrad (Reddi et al. 2018): Adam with a non-decreasing second moment, which fixes its divergence."""
    return optax.amsgrad(learning_rate, b1=b1, b2=b2, eps=eps)


def radam(learning_rate, b1, b2, eps):
    """RAdam (Liu et al. 2020): Adam that rectifies the variance of its early adaptive step."""
    return optax.radam(learning_rate, b1=b1, b2=b2, eps=eps)


def adabelief(learning_rate, b1, b2, eps):
    """AdaBelief (Zhuang et al. 2020): steps scaled by the spread of the gradient around its mean."""
    # optax's default eps_root equals eps (1e-16); keep them tied as the paper does.
    return optax.adabelief(learning_rate, b1=b1, b2=b2, eps=eps, eps_root=eps)


def yogi(learning_rate, b1, b2, eps):
    """Yogi (Zaheer et al. 2018): Adam with an additive second-moment update that grows its step slowly."""
    return optax.yogi(learning_rate, b1=b1, b2=b2, eps=eps)


@suite.hookimpl
def register_optimizers(register):
    sweep = {"learning_rate": SCALE_FREE}
    register("adam", adam, params=PARAMS, sweep=sweep)
    register("adamw", adamw, params=(*PARAMS, WEIGHT_DECAY), sweep=sweep)
    register("nadam", nadam, params=PARAMS, sweep=sweep)
    register("amsgrad", amsgrad, params=PARAMS, sweep=sweep)
    register("radam", radam, params=PARAMS, sweep=sweep)
    register("adabelief", adabelief, params=(*PARAMS[:3], _eps(1e-16)), sweep=sweep)
    register("yogi", yogi, params=(*PARAMS[:3], _eps(1e-3)), sweep=sweep)
