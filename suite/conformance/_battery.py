"""The conformance battery's machinery: check outcomes, the runner of checks and shared helpers."""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import numpy as np

from suite import metrics
from suite.errors import one_line


class Failed(Exception):
    """A check found the plugin at fault; the message says how."""


class Skipped(Exception):
    """A check does not apply (no projection, no known minimiser, ...)."""


@dataclasses.dataclass(frozen=True)
class Result:
    """One check's outcome: ``status`` is ``"passed"``, ``"failed"`` or ``"skipped"``."""

    check: str
    status: str
    detail: str = ""


def _run(checks: list[tuple[str, Callable[[], None]]]) -> list[Result]:
    results = []
    for name, check in checks:
        try:
            check()
        except Skipped as exc:
            results.append(Result(name, "skipped", str(exc)))
        except Exception as exc:  # noqa: BLE001 - a failing plugin is the finding
            results.append(Result(name, "failed", str(exc) if isinstance(exc, Failed) else one_line(exc)))
        else:
            results.append(Result(name, "passed"))
    return results


def _require(condition, message: str) -> None:
    if not condition:
        raise Failed(message)


def _same_trees(a, b, *, rtol: float, atol: float, what: str) -> None:
    a_leaves, a_def = jax.tree.flatten(a)
    b_leaves, b_def = jax.tree.flatten(b)
    _require(a_def == b_def, f"{what}: tree structures differ ({a_def} vs {b_def})")
    for i, (x, y) in enumerate(zip(a_leaves, b_leaves)):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        _require(x.shape == y.shape, f"{what}: leaf {i} has shape {x.shape} vs {y.shape}")
        if not np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True):
            raise Failed(f"{what}: leaf {i} differs by up to {np.max(np.abs(x - y)):.3g}")


def _index(tree, i: int):
    return jax.tree.map(lambda a: a[i], tree)


def _all_finite(tree) -> bool:
    return all(bool(np.all(np.isfinite(np.asarray(x)))) for x in jax.tree.leaves(tree))


def resolution(*values, dtype) -> float:
    """What a loss of ``dtype`` can resolve at max(|values|): :func:`suite.metrics.resolution` there."""
    dtype = np.dtype(dtype) if np.issubdtype(np.dtype(dtype), np.floating) else np.dtype(np.float32)
    scale = max((abs(float(v)) for v in values if np.isfinite(float(v))), default=0.0)
    return metrics.resolution(scale, dtype.name)


def _check_params(spec) -> None:
    _require(spec.doc, "no doc line: give register(..., doc=) or a docstring")
    names = [p.name for p in spec.params]
    for param in spec.params:
        _require(param.doc, f"parameter {param.name!r} has no doc line")
        param.check(param.default, f"{spec.name!r} (its default)")
    for name, value in spec.test_config.items():
        _require(name in names, f"test_config names {name!r}, not a parameter ({', '.join(names)})")
        spec.params[names.index(name)].check(value, f"{spec.name!r} (its test_config)")
