"""Spherical p-spin spin glass: a random polynomial on the sphere, saddles above the floor.

H(σ) = N^{−(p−1)/2} Σ_{i1..ip} J_{i1..ip} σ_{i1}⋯σ_{ip},  |σ|² = N,  J iid N(0, 1),

so E[H(σ)H(σ')] = N (σ·σ'/N)^p and Var H(σ) = N at every point of the sphere.
The loss is the energy per spin u = H/N. For p ≥ 3 the critical points are
exponentially many, nearly all saddles above the threshold energy −E_∞ =
−2√((p−1)/p) and minima only below it, down to the ground state −E₀; gradient
flow from random starts relaxes to the threshold, not the ground state, as
N → ∞ (Cugliandolo & Kurchan 1993). For p = 2 the problem is an eigenvalue
problem: two minima (± the bottom eigenvector), every other critical point a
saddle. Choromanska et al. (2015) model the loss of deep nets with it.

Scale. Spins are O(1) (|σ|² = N) and ∂H/∂σ_i is O(1), so ∂u/∂σ_i = (∂H/∂σ_i)/N:
plain gradient descent on u at learning rate η·N takes the step η on H. For
p = 3 the top tangent Hessian eigenvalue of H is about 10, so η ≈ 0.1 (SGD
learning rate ≈ 0.1·N on this loss) is stable; sign- and scale-free methods
(Adam, RMSProp) need steps of about 0.01–0.1 per spin whatever N is.

Geometry. The loss is u at the retracted point √N σ/|σ|. On the sphere that is
u itself, and its Euclidean gradient is the Riemannian gradient: tangent to
the sphere, with no radial part an optimizer could waste its step on. The
runner projects back onto the sphere after every step.

Memory. The symmetrised coupling tensor has N^p entries (N = 400, p = 3:
256 MB in float32, 512 MB in float64). The energy is contracted one axis group at a time, as a
matrix product over all restarts at once, so no restarts × N^p (or N^{p−1} for
p ≥ 4) tensor is ever formed; the gradient costs no second contraction (a
custom JVP: ∇(Σ J σ^{⊗p}) = p J σ^{⊗(p−1)} for symmetric J).

Precision. For p ≥ 3, f* is a reference, not this instance's minimum: the
ground-state energy as N → ∞ (f_opt_kind "reference"), which a finite instance
misses by a finite-size correction of either sign, so f − f* says how far from
the N → ∞ floor a run got, never whether it found this instance's minimum. For p = 2, f* =
λ_min(J)/√N is this instance's exact minimum, from a float64 eigensolve when
the instance is built (accurate to ~1e-15 whatever precision the run uses).
The loss is the energy u itself, not measured from f*: it is a sum of N^p
terms of both signs whose total is O(1), so its rounding error is several ulps
of |u| (≈ 1e-7 in float32), below which a float32 run cannot resolve f − f*.
(For p = 2 alone, u − f* = Σ_k (λ_k − λ_min)(v_k·σ)²/N^{3/2} in J's eigenbasis
would be free of cancellation; one contraction serves every p instead.) The
couplings are drawn in float32 and cast, so a float64 run faces the same
instance and the same starts as a float32 run.

References:
  Crisanti, Sommers, "The spherical p-spin interaction spin glass model",
  Z. Phys. B 87, 1992.
  Cugliandolo, Kurchan, "Analytical solution of the off-equilibrium dynamics of
  a long-range spin-glass model", Phys. Rev. Lett. 71, 1993.
  Auffinger, Ben Arous, Černý, "Random matrices and complexity of spin
  glasses", arXiv:1003.1129, 2010 (ground states and threshold, Table 1).
  Subag, "The complexity of spherical p-spin models — a second moment
  approach", arXiv:1504.02251, 2015.
  Choromanska, Henaff, Mathieu, Ben Arous, LeCun, "The loss surfaces of
  multilayer networks", arXiv:1412.0233, 2015.
"""

import itertools
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

import suite
from suite import Param
from suite.landscapes import _random

PARAMS = (
    Param("n", int, 100, "number of spins N (the coupling tensor holds N^p floats)", low=2),
    Param("p", int, 3, "order of the interaction (2: eigenvalue problem; 3, 4: glassy)", low=2, high=4),
)

# −E₀: ground-state energy per spin as N → ∞ (Auffinger, Ben Arous, Černý 2010).
GROUND_STATE = {2: -math.sqrt(2.0), 3: -1.65700, 4: -1.79409}


def threshold_energy(p: int) -> float:
    """−E_∞ = −2√((p−1)/p): where gradient flow from random starts ends as N → ∞."""
    return -2.0 * math.sqrt((p - 1) / p)


def couplings(key: jax.Array, n: int, p: int) -> jax.Array:
    """Gaussian couplings J iid N(0, 1) over ordered index tuples, symmetrised.

    Symmetrising (averaging over the p! index permutations) leaves H unchanged,
    because σ^{⊗p} is symmetric, and makes ∇H = p·(J contracted p − 1 times).
    """
    return _symmetrize(_random.normal(key, (n,) * p))


@jax.jit
def _symmetrize(raw: jax.Array) -> jax.Array:
    perms = list(itertools.permutations(range(raw.ndim)))
    return sum(jnp.transpose(raw, perm) for perm in perms) / len(perms)


def _tensor_power(sigma: jax.Array, k: int) -> jax.Array:
    """σ^{⊗k}, flattened (a vector of N^k entries; [1.0] for k = 0)."""
    out = jnp.ones((1,), sigma.dtype)
    for _ in range(k):
        out = jnp.outer(out, sigma).reshape(-1)
    return out


def local_field(couplings: jax.Array, sigma: jax.Array) -> jax.Array:
    """h_i = Σ J_{i j2..jp} σ_{j2}⋯σ_{jp}, in two matrix products.

    The p − 1 contracted axes are split in two groups, so the largest
    intermediate per restart has at most N² entries for p ≤ 4 and, under
    ``vmap`` over restarts, the first product is one matrix multiply of the
    reshaped couplings with every restart's σ^{⊗k}.
    """
    p, n = couplings.ndim, couplings.shape[0]
    second = (p - 1) // 2
    first = p - 1 - second
    partial = couplings.reshape(-1, n**first) @ _tensor_power(sigma, first)
    return partial.reshape(n, n**second) @ _tensor_power(sigma, second)


@jax.custom_jvp
def _contract(couplings, sigma):
    """Σ J_{i1..ip} σ_{i1}⋯σ_{ip} for a symmetric J."""
    return local_field(couplings, sigma) @ sigma


def _contract_jvp(primals, tangents):
    couplings, sigma = primals
    d_couplings, d_sigma = tangents
    field = local_field(couplings, sigma)
    out = field @ sigma
    # For symmetric J the gradient in σ is p·h: no second pass over J. The
    # rule is itself differentiable, so Hessians (diagnostics) come out right.
    tangent = jnp.zeros_like(out)
    if not isinstance(d_sigma, SymbolicZero):
        tangent = tangent + couplings.ndim * (field @ d_sigma)
    if not isinstance(d_couplings, SymbolicZero):
        tangent = tangent + _contract(d_couplings, sigma)
    return out, tangent


_contract.defjvp(_contract_jvp, symbolic_zeros=True)


def hamiltonian(couplings: jax.Array, sigma: jax.Array) -> jax.Array:
    """H(σ) = N^{−(p−1)/2} Σ J σ^{⊗p} (Crisanti & Sommers 1992), for symmetric J."""
    p, n = couplings.ndim, couplings.shape[0]
    return _contract(couplings, sigma) * n ** (-(p - 1) / 2)


def retract(sigma: jax.Array) -> jax.Array:
    """σ ↦ √N σ/|σ|: back onto the sphere |σ|² = N."""
    return sigma * jnp.sqrt(sigma.shape[-1]) / jnp.linalg.norm(sigma)


def _init(data, key):
    n = data["couplings"].shape[0]
    return retract(_random.normal(key, (n,)))  # uniform on the sphere


def _loss(data, sigma, key):
    """u at the retracted σ: the spins σ are the landscape's point x."""
    del key
    return hamiltonian(data["couplings"], retract(sigma)) / sigma.shape[-1]


def _project(data, sigma):
    """The point x = σ back onto the sphere |σ|² = N."""
    del data
    return retract(sigma)


def _sign_fixed(data, sigma):
    """For even p, H(−σ) = H(σ): the representative with Σσ ≥ 0 (for clustering minima)."""
    del data
    return jnp.where(jnp.sum(sigma) < 0, -sigma, sigma)


def index_at(u: float, p: int) -> float:
    """α(u) = F_sc(u/E_∞): the index of critical points of energy u as N → ∞.

    F_sc(y) = ½ + (y√(1−y²) + arcsin y)/π, the semicircle law's distribution
    function, clipped to [0, 1] (Auffinger, Ben Arous & Černý 2010; Subag 2015):
    0 at and below the threshold −E_∞, ½ at u = 0.
    """
    y = float(np.clip(u / -threshold_energy(p), -1.0, 1.0))
    return float(np.clip(0.5 + (y * math.sqrt(1 - y * y) + math.asin(y)) / math.pi, 0.0, 1.0))


def index_curve(p: int) -> tuple[tuple[float, float], ...]:
    """α(u) sampled from the ground state to E_∞, for the diagnostics' index-vs-loss figure."""
    return tuple((float(u), index_at(float(u), p))
                 for u in np.linspace(GROUND_STATE[p], -threshold_energy(p), 61))


def _check_memory(n: int, p: int) -> None:
    needed = _random.default_float().itemsize * n**p  # 8 bytes a float under x64
    try:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    # Building the symmetrised tensor holds the raw draw and the sum: ~3 copies.
    if 3 * needed > available:
        raise ValueError(
            f"pspin n={n}, p={p} needs {3 * needed / 2**30:.1f} GiB to build its couplings "
            f"(N^p = {n**p:.3g} floats); this machine has {available / 2**30:.1f} GiB: "
            f"choose a smaller n")


def build(values: dict, *, key: jax.Array) -> suite.Landscape:
    """Spherical p-spin glass, energy per spin (Crisanti & Sommers 1992; Auffinger et al. 2010)."""
    n, p = values["n"], values["p"]
    _check_memory(n, p)
    data = {"couplings": couplings(key, n, p)}
    levels = (("ground state (N → ∞)", GROUND_STATE[p]), ("threshold", threshold_energy(p)))
    extra = {"symmetry_fn": _sign_fixed if p % 2 == 0 else None, "index_curve": index_curve(p)}
    if p == 2:
        # u = σᵀJσ/N^{3/2} on |σ|² = N: the minimum is the bottom eigenvalue of
        # J/√N, at ±√N times its eigenvector; exact for this instance.
        eigenvalues, eigenvectors = np.linalg.eigh(np.asarray(data["couplings"], np.float64))
        f_opt = float(eigenvalues[0] / math.sqrt(n))
        x_opt = _random.floats(eigenvectors[:, 0] * math.sqrt(n))
        return suite.Landscape(data=data, init_fn=_init, loss_fn=_loss, project_fn=_project,
                               f_opt=f_opt, x_opt=x_opt, tags=("saddles",), levels=levels, **extra)
    return suite.Landscape(data=data, init_fn=_init, loss_fn=_loss, project_fn=_project,
                           f_opt=GROUND_STATE[p], f_opt_kind="reference",
                           tags=("saddles", "multimodal"), levels=levels, **extra)


@suite.hookimpl
def register_landscapes(register):
    register("pspin", build, params=PARAMS, test_config={"n": 12, "p": 3})
