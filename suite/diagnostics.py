"""Landscape diagnostics: why an optimizer won or lost.

Opt-in per run (``diagnostics = [...]`` in a config, ``--diagnose`` on the
command line); with none asked for, the compiled program is the plain one.

* ``layers``: per-layer gradient norms at the checkpoints, recorded inside the
  training program (:mod:`suite.program`), for layered landscapes.
* ``hessian``: at the end point of a sample of restarts, the extreme Hessian
  eigenvalues and the index (fraction of negative eigenvalues): the exact
  spectrum up to :data:`EXACT_LIMIT` coordinates, Lanczos on Hessian-vector
  products above; each end point is classified as a minimum, a saddle, or not
  converged (Dauphin et al., "Identifying and attacking the saddle point
  problem", arXiv:1406.2572).
* ``path``: the loss on the straight line (1 − α)θ₀ + αθ₁, α ∈ [−0.5, 1.5],
  from start to end point (Goodfellow, Vinyals & Saxe, "Qualitatively
  characterizing neural network optimization problems", arXiv:1412.6544), and
  whether it crosses a barrier.
* ``minima``: end points clustered (up to the landscape's declared symmetry):
  how many distinct minima the restarts found, and the share in the best basin.
* ``pictures``: for 2-D landscapes the trajectories of a few restarts on the
  contour plot; above, the loss on the plane through a start, its end point
  and the best end point.
* ``sparsity``: how many coordinates of each end point are exactly zero (what
  an L1 penalty with orthant steps, ``penalty:l1_mode=orthant``, produces).

Everything after training runs as one extra batched pass per program on the
restarts sampled (:func:`end_points`).
"""

from __future__ import annotations

import functools

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from suite.specs import Landscape

END_POINT = ("hessian", "path", "minima", "pictures", "sparsity")  # those of the extra pass
EXACT_LIMIT = 2000  # coordinates of x up to which the Hessian is decomposed exactly
LANCZOS_STEPS = 64
ALPHAS = tuple(float(a) for a in np.linspace(-0.5, 1.5, 41))
PLANE_SIZE = 25  # grid points per side of the plane picture
TRACE_RESTARTS = 8  # trajectories kept per cell for 2-D pictures
GRAD_TOL = 1e-3  # an end point with ‖∇f‖ above this is "not converged"
FLAT_TOL = 1e-6  # every |λ| below this: the quadratic term says nothing
SMALL = 100  # landscapes with up to this many coordinates have every restart examined
SAMPLE = 64  # restarts examined per cell above that
CLASSES = ("minimum", "saddle", "flat", "not converged")


def flatten(x):
    """``(vector, unravel)`` of a point (any pytree of arrays), in float32."""
    flat, unravel = jax.flatten_util.ravel_pytree(x)
    return flat.astype(jnp.float32), unravel


def lanczos(hvp, n: int, key: jax.Array, steps: int) -> tuple[jax.Array, jax.Array]:
    """Ritz values of a symmetric operator and their weights, by Lanczos with full reorthogonalisation.

    Starting from a random unit vector v, the Ritz values θ_i of the
    ``steps``-dimensional Krylov space and the squared first components w_i
    of their eigenvectors estimate the spectral density Σ_i w_i δ(λ − θ_i)
    (stochastic Lanczos quadrature; Ghorbani, Krishnan & Xiao,
    arXiv:1901.10159): the extreme θ converge to the extreme eigenvalues, and
    Σ w_i [θ_i < 0] estimates the fraction of negative ones.

    Returns:
      ``(theta [steps], weights [steps])``.
    """
    steps = min(steps, n)
    v = jax.random.normal(key, (n,), jnp.float32)
    v = v / jnp.linalg.norm(v)
    basis = jnp.zeros((steps, n), jnp.float32).at[0].set(v)

    def body(carry, i):
        basis, alphas, betas = carry
        w = hvp(basis[i])
        alpha = w @ basis[i]
        # Full reorthogonalisation against every earlier vector (twice is enough).
        mask = (jnp.arange(steps) <= i)[:, None]
        for _ in range(2):
            w = w - (basis * mask).T @ ((basis * mask) @ w)
        beta = jnp.linalg.norm(w)
        nxt = jnp.where(beta > 1e-10, w / jnp.maximum(beta, 1e-30), 0.0)
        basis = jnp.where(i + 1 < steps, basis.at[jnp.minimum(i + 1, steps - 1)].set(nxt), basis)
        return (basis, alphas.at[i].set(alpha), betas.at[i].set(beta)), None

    init = (basis, jnp.zeros(steps, jnp.float32), jnp.zeros(steps, jnp.float32))
    (_, alphas, betas), _ = jax.lax.scan(body, init, jnp.arange(steps))
    tridiagonal = jnp.diag(alphas) + jnp.diag(betas[:-1], 1) + jnp.diag(betas[:-1], -1)
    theta, vectors = jnp.linalg.eigh(tridiagonal)
    return theta, vectors[0] ** 2


def spectrum(loss, x: jax.Array, key: jax.Array, *, exact: bool, steps: int = LANCZOS_STEPS) -> dict:
    """Extreme Hessian eigenvalues and index of ``loss`` (a function of a vector) at ``x``."""
    if exact:
        eigenvalues = jnp.linalg.eigvalsh(jax.hessian(loss)(x))
        scale = jnp.max(jnp.abs(eigenvalues))
        negative = jnp.mean(eigenvalues < -1e-6 * scale)
        return {"lambda_min": eigenvalues[0], "lambda_max": eigenvalues[-1], "index": negative}

    def hvp(v):
        return jax.jvp(jax.grad(loss), (x,), (v,))[1]

    theta, weights = lanczos(hvp, x.shape[0], key, steps)
    scale = jnp.max(jnp.abs(theta))
    return {"lambda_min": theta[0], "lambda_max": theta[-1],
            "index": jnp.sum(jnp.where(theta < -1e-6 * scale, weights, 0.0))}


def classify(grad_norm, index, lambda_min, lambda_max, grad_tol: float = GRAD_TOL) -> np.ndarray:
    """What kind of point each end point is.

    ``not converged`` where ‖∇f‖ > ``grad_tol``; else ``saddle`` with a
    negative eigenvalue; ``flat`` where every eigenvalue is below
    :data:`FLAT_TOL` in size (a higher-order critical point, such as the
    origin of a deep linear chain: a saddle the Hessian cannot see); else
    ``minimum`` (zero eigenvalues along symmetries allowed).
    """
    grad_norm, index = np.asarray(grad_norm), np.asarray(index)
    flat = np.maximum(np.abs(np.asarray(lambda_min)), np.abs(np.asarray(lambda_max))) <= FLAT_TOL
    kind = np.where(index > 0, "saddle", np.where(flat, "flat", "minimum"))
    return np.where(~(grad_norm <= grad_tol), "not converged", kind)


def sample_size(asked: int, restarts: int, n_coordinates: int) -> int:
    """Restarts examined per cell: as asked, else all on small landscapes and :data:`SAMPLE` above."""
    return min(asked or (restarts if n_coordinates <= SMALL else SAMPLE), restarts)


@functools.partial(jax.jit, static_argnames=("which", "exact"))
def end_points(landscape: Landscape, starts, ends, key: jax.Array, *, which: tuple, exact: bool) -> dict:
    """One batched pass over the sampled restarts' start and end points.

    Args:
      landscape: the instance.
      starts, ends: points (pytrees) with a leading restart axis.
      key: for Lanczos start vectors.
      which: the end-point diagnostics asked for (a subset of :data:`END_POINT`).
      exact: decompose the Hessian exactly (else Lanczos).

    Returns:
      Arrays with a leading restart axis: ``grad_norm``, ``loss``; with
      ``hessian``: ``lambda_min``, ``lambda_max``, ``index``; with ``path``:
      ``path`` [restarts, len(ALPHAS)]; with ``minima``: ``distance``
      [restarts, restarts] between end points, after the landscape's symmetry;
      with ``sparsity``: ``zeros``, the end point's coordinates exactly zero.
    """
    one = jax.tree.map(lambda a: a[0], ends)
    _, unravel = flatten(one)

    def loss(x):
        return landscape.loss(unravel(x)).astype(jnp.float32)

    x0 = jax.vmap(lambda p: flatten(p)[0])(starts)
    x1 = jax.vmap(lambda p: flatten(p)[0])(ends)
    values, grads = jax.vmap(jax.value_and_grad(loss))(x1)
    out = {"loss": values, "grad_norm": jnp.linalg.norm(grads, axis=-1)}
    if "hessian" in which:
        keys = jax.random.split(key, x1.shape[0])
        # One end point at a time: an exact Hessian is n² floats per restart.
        found = jax.lax.map(lambda a: spectrum(loss, a[0], a[1], exact=exact), (x1, keys))
        out |= found
    if "path" in which:
        alphas = jnp.asarray(ALPHAS, jnp.float32)
        out["path"] = jax.vmap(lambda a, b: jax.vmap(lambda t: loss((1 - t) * a + t * b))(alphas))(x0, x1)
    if "sparsity" in which:  # before the float32 cast of flatten: a zero is a zero in any dtype
        out["zeros"] = jax.vmap(lambda p: sum(jnp.sum(leaf == 0) for leaf in jax.tree.leaves(p)))(ends)
    if "minima" in which:
        out["canonical"] = x1 if landscape.symmetry_fn is None else jax.vmap(
            lambda x: flatten(landscape.symmetry_fn(landscape.data, unravel(x)))[0])(x1)
    return out


@jax.jit
def plane(landscape: Landscape, a, b, c) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The loss on the plane through a (a start), b (its end) and c (the best end point).

    Coordinates: u along b − a, v along the part of c − a orthogonal to it,
    both in units of |b − a|; the grid covers the three points with a quarter
    of their span to spare. Where c lies on the line through a and b (the
    restart ended in the best end point's basin, up to 1e-3 |b − a|), that
    part is float rounding, not a direction: v is then the coordinate axis
    least aligned with b − a, made orthogonal to it, so the picture is the
    same on any device count.

    Returns:
      ``(grid [PLANE_SIZE, PLANE_SIZE], coords [3, 2], ticks [2, PLANE_SIZE])``:
      the loss at (u_i, v_j) (rows v), the plane coordinates of a, b and c,
      and the u and v grid values.
    """
    _, unravel = flatten(a)
    xa, xb, xc = (flatten(p)[0] for p in (a, b, c))
    e1 = xb - xa
    scale = jnp.maximum(jnp.linalg.norm(e1), 1e-12)
    e1 = e1 / scale
    rest = (xc - xa) - ((xc - xa) @ e1) * e1
    axis = jnp.zeros_like(e1).at[jnp.argmin(jnp.abs(e1))].set(1.0)
    rest = jnp.where(jnp.linalg.norm(rest) > 1e-3 * scale, rest, axis - (axis @ e1) * e1)
    e2 = rest / jnp.maximum(jnp.linalg.norm(rest), 1e-12)
    coords = jnp.stack([jnp.zeros(2), jnp.asarray([1.0, 0.0]),
                        jnp.stack([(xc - xa) @ e1, (xc - xa) @ e2]) / scale])
    lows, highs = coords.min(0), coords.max(0)
    span = jnp.maximum(highs - lows, 1.0)
    ticks = jax.vmap(lambda lo, hi: jnp.linspace(lo, hi, PLANE_SIZE))(lows - span / 4, highs + span / 4)

    def at(u, v):
        return landscape.loss(unravel(xa + scale * (u * e1 + v * e2))).astype(jnp.float32)

    grid = jax.vmap(lambda v: jax.vmap(lambda u: at(u, v))(ticks[0]))(ticks[1])
    return grid, coords, ticks


@jax.jit
def contour(landscape: Landscape, lows: jax.Array, highs: jax.Array) -> jax.Array:
    """The loss of a 2-D landscape on a PLANE_SIZE² grid over [lows, highs] (rows: second coordinate)."""
    xs = jnp.linspace(lows[0], highs[0], PLANE_SIZE)
    ys = jnp.linspace(lows[1], highs[1], PLANE_SIZE)
    example = landscape.init(jax.random.key(0))
    _, unravel = flatten(example)
    return jax.vmap(lambda y: jax.vmap(lambda x: landscape.loss(unravel(jnp.stack([x, y]))))(xs))(ys)


def barriers(path: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Whether the loss on [θ₀, θ₁] rises above both ends (Goodfellow et al.'s barrier)."""
    inside = np.asarray(ALPHAS)
    segment = path[:, (inside >= 0) & (inside <= 1)]
    ends = np.maximum(segment[:, 0], segment[:, -1])
    scale = np.maximum(np.abs(ends), 1.0)
    return np.nanmax(segment, axis=1) > ends + tol * scale


def cluster(points: np.ndarray, losses: np.ndarray, *, radius: float = 1e-2) -> np.ndarray:
    """Basin labels of end points: greedy clusters of RMS distance ≤ ``radius`` around the lowest.

    End points (``points`` [k, n], after the landscape's symmetry) are visited
    by increasing loss; each starts a new basin unless it lies within
    ``radius`` (RMS per coordinate) of an earlier basin's first point. Basin 0
    is the best basin. Non-finite losses get -1. The cost is k × basins × n.
    """
    points = np.asarray(points, dtype=np.float64)
    losses = np.asarray(losses, dtype=np.float64)
    labels = np.full(len(losses), -1)
    leaders = np.empty((0, points.shape[1]))
    for i in np.argsort(np.where(np.isfinite(losses), losses, np.inf), kind="stable"):
        if not np.isfinite(losses[i]) or not np.isfinite(points[i]).all():
            continue
        distance = np.sqrt(np.mean((leaders - points[i]) ** 2, axis=1))
        near = np.flatnonzero(distance <= radius)
        if near.size:
            labels[i] = near[0]
        else:
            labels[i] = len(leaders)
            leaders = np.vstack([leaders, points[i]])
    return labels
