"""Diagnostics' host work: the end-point pass per batch, findings per setting, and their tables.

:mod:`suite.diagnostics` holds the math (spectra, paths, clusters, pictures);
this module runs it beside training. A :class:`DiagnosticsPass` is fed each
batch's end points and turns them into per-setting findings at the end of a
group; the ``*_columns``/``diagnostic_tables`` functions turn findings into
rows of ``restarts.parquet``, ``cells.parquet`` and the diagnostics' own
tables. Diagnostics never cost the training results: any failure is kept
as one line in the findings, and the training summaries stand.
"""

from __future__ import annotations

import contextlib
import time

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from suite import compiler, diagnostics, metrics, program
from suite.config import RunConfig
from suite.errors import one_line
from suite.plan import Cell
from suite.streams import Draw
from suite.tables import QUANTILES


class DiagnosticsPass:
    """Diagnostics of one group (one instance, several settings), fed batch by batch."""

    def __init__(self, draw: Draw, config: RunConfig, static: program.Static, n_settings: int,
                 n_coordinates: int, device: jax.Device, mesh=None):
        asked = set(config.diagnostics)
        self.draw, self.static, self.device, self.mesh = draw, static, device, mesh
        self.which = tuple(d for d in diagnostics.END_POINT if d in asked)
        self.n_coordinates = n_coordinates
        self.sample = (diagnostics.sample_size(config.diagnose_restarts, config.restarts, n_coordinates)
                       if self.which else 0)
        self.found: list[dict] = [{} for _ in range(n_settings)]
        self.error = ""
        self.seconds = 0.0

    @property
    def active(self) -> bool:
        return bool(self.which or self.static.layers or self.static.trace)

    @contextlib.contextmanager
    def _guarded(self):
        """Times the work, and keeps its first failure as one line instead of raising."""
        start = time.perf_counter()
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - diagnostics never cost the training results
            self.error = self.error or one_line(exc)[:500]
        finally:
            self.seconds += time.perf_counter() - start

    def after_batch(self, x, ids, first: int, real: int) -> None:
        """Examines the sampled restarts of one batch: ``x`` is its end points, [settings, batch, ...]."""
        take = min(self.sample - first, real)
        if take <= 0 or self.error:
            return
        with self._guarded():
            ends = jax.tree.map(lambda leaf: leaf[:, :take], x)
            if self.mesh is not None:  # the extra pass is small: gather the sample on one device
                ends = jax.device_put(compiler.to_host(ends), self.device)
            _end_point_pass(self.draw, ends, ids[:take], self.which, self.found, self.n_coordinates)

    def finish(self, summary: dict) -> list[dict]:
        """Per-setting findings (empty when nothing was asked); ``summary`` fields are [settings, restarts, ...]."""
        if not self.active:
            return []
        found = [{} for _ in self.found]
        with self._guarded():
            found = [_findings(self.draw.instance, {} if self.error else f, summary, h, self.static.trace)
                     for h, f in enumerate(self.found)]
        if self.error:
            for f in found:
                f["error"] = self.error
        return found


def _end_point_pass(draw: Draw, ends, ids, which, found, n_coordinates) -> None:
    """The extra pass over one batch's sampled restarts; appends per-setting arrays to ``found``."""
    instance = draw.instance
    starts = jax.vmap(lambda rid: instance.init(jax.random.fold_in(draw.init, rid)))(ids)
    key = jax.random.fold_in(draw.init, 0x5EED)
    out = jax.vmap(lambda e: diagnostics.end_points(
        instance, starts, e, key, which=which, exact=n_coordinates <= diagnostics.EXACT_LIMIT))(ends)
    out = jax.device_get(out)
    plane = "pictures" in which and n_coordinates > 2
    if plane:
        flat_starts = np.asarray(jax.vmap(lambda p: diagnostics.flatten(p)[0])(starts))
        flat_ends = np.asarray(jax.vmap(jax.vmap(lambda p: diagnostics.flatten(p)[0]))(ends))
    for h, mine in enumerate(found):
        for name, value in out.items():
            mine.setdefault(name, []).append(np.asarray(value[h]))
        # The plane picture needs points, but only three per setting: keep restart 0's
        # start and end and the lowest end point seen so far.
        if plane:
            losses = np.asarray(out["loss"][h])
            best = int(np.nanargmin(np.where(np.isfinite(losses), losses, np.nan))) if np.isfinite(losses).any() else 0
            if "plane_a" not in mine:
                mine["plane_a"], mine["plane_b"] = flat_starts[0], flat_ends[h, 0]
                mine["plane_c"], mine["plane_best_loss"] = flat_ends[h, 0], np.inf
            if losses[best] < mine["plane_best_loss"]:
                mine["plane_best_loss"], mine["plane_c"] = float(losses[best]), flat_ends[h, best]


def _findings(instance, found: dict, summary: dict, h: int, trace: bool) -> dict:
    """Per-setting diagnostics on the host: classes, barriers, basins and pictures."""
    out: dict = {}
    for name in ("loss", "grad_norm", "lambda_min", "lambda_max", "index", "zeros"):
        if name in found:
            out[name] = np.concatenate(found[name])
    if "path" in found:
        out["path"] = np.concatenate(found["path"])
        out["barrier"] = diagnostics.barriers(out["path"])
    if "index" in out:
        out["class"] = diagnostics.classify(out["grad_norm"], out["index"], out["lambda_min"], out["lambda_max"])
    if "canonical" in found:  # every batch's end points together
        out["basin"] = diagnostics.cluster(np.concatenate(found["canonical"]), out["loss"])
    points = [found.get(k) for k in ("plane_a", "plane_b", "plane_c")]
    if "plane_a" in found and all(np.isfinite(p).all() for p in points):  # none when restart 0 diverged
        _, unravel = diagnostics.flatten(instance.init(jax.random.key(0)))
        grid, coords, ticks = diagnostics.plane(instance, *(unravel(jnp.asarray(found[k])) for k in
                                                            ("plane_a", "plane_b", "plane_c")))
        out["plane"] = (np.asarray(grid), np.asarray(coords), np.asarray(ticks))
    if "ckpt_layers" in summary:
        out["layers"] = summary["ckpt_layers"][h]  # [restarts, n_ckpt, n_layers]
    if trace and "ckpt_x" in summary:
        paths = summary["ckpt_x"][h][:diagnostics.TRACE_RESTARTS]  # [k, n_ckpt, 2]
        points = paths[np.isfinite(paths).all(-1)]
        if points.size:
            lows, highs = points.min(0), points.max(0)
            pad = np.maximum(0.15 * (highs - lows), 1e-3)
            lows, highs = lows - pad, highs + pad
            grid = np.asarray(diagnostics.contour(instance, jnp.asarray(lows, jnp.float32),
                                                  jnp.asarray(highs, jnp.float32)))
            out["contour"] = (grid, lows, highs, paths)
    return out


def diagnostic_restart_columns(diag: dict, n: int) -> dict:
    """Per-restart columns of the end-point diagnostics (missing outside the sample)."""
    def padded(values, fill, dtype):
        out = np.full(n, fill, dtype=dtype)
        out[:len(values)] = values
        return out

    columns = {}
    sampled = len(diag.get("grad_norm", []))
    if sampled:
        columns["diagnosed"] = padded(np.ones(sampled, bool), False, bool)
        columns["end_grad_norm"] = padded(diag["grad_norm"], np.nan, np.float64)
    for name, column in (("index", "hessian_index"), ("lambda_min", "lambda_min"), ("lambda_max", "lambda_max")):
        if name in diag:
            columns[column] = padded(diag[name], np.nan, np.float64)
    if "class" in diag:
        columns["end_class"] = padded(diag["class"], "", object)
    if "zeros" in diag:
        columns["end_zeros"] = pd.array(padded(diag["zeros"], -1, np.int64), dtype="Int64")
        columns["end_zeros"][columns["end_zeros"] < 0] = pd.NA
    if "barrier" in diag:
        columns["path_barrier"] = pd.array(padded(diag["barrier"].astype(float), np.nan, np.float64)).astype("boolean")
    if "basin" in diag:
        columns["basin"] = pd.array(padded(diag["basin"], -1, np.int64), dtype="Int64")
        columns["basin"][columns["basin"] < 0] = pd.NA
    return columns


def diagnostic_cell_columns(diag: dict) -> dict:
    """Per-cell summaries of the diagnostics: end-point classes, basins, barriers, layer ratio."""
    row = {"diagnostics_error": diag["error"]} if "error" in diag else {}
    if "class" in diag:
        for name in diagnostics.CLASSES:  # minimum_rate, saddle_rate, flat_rate, not_converged_rate
            row[f"{name.replace(' ', '_')}_rate"] = float(np.mean(diag["class"] == name))
    if "basin" in diag:
        basins = diag["basin"][diag["basin"] >= 0]
        row["basins_found"] = int(len(np.unique(basins)))
        if "class" in diag:  # basins holding an end point that is a minimum
            row["minima_found"] = int(len(np.unique(diag["basin"][(diag["basin"] >= 0)
                                                                   & (diag["class"] == "minimum")])))
        row["best_basin_share"] = float(np.mean(diag["basin"] == 0)) if len(diag["basin"]) else float("nan")
    if "barrier" in diag:
        row["barrier_rate"] = float(np.mean(diag["barrier"]))
    if "layers" in diag:
        final = diag["layers"][:, -1, :]  # restarts × layers at the last checkpoint
        with np.errstate(divide="ignore", invalid="ignore"):
            row["layer_ratio_first_last"] = float(np.nanmedian(final[:, 0] / final[:, -1]))
    return row


def diagnostic_tables(cell: Cell, diag: dict, ckpt_steps: np.ndarray) -> dict[str, pd.DataFrame]:
    """The diagnostics' own tables for one cell: layers, paths, pictures."""
    tables = {}
    if "layers" in diag:
        norms = diag["layers"]  # [restarts, n_ckpt, layers]
        qs = np.nanquantile(norms, [0.25, 0.5, 0.75], axis=0) if np.isfinite(norms).any() else \
            np.full((3,) + norms.shape[1:], np.nan)
        steps, layers = np.meshgrid(ckpt_steps, np.arange(norms.shape[-1]), indexing="ij")
        tables["layers"] = pd.DataFrame({"cell_id": cell.id, "step": steps.ravel().astype(np.int64),
                                         "layer": layers.ravel().astype(np.int64), "q25": qs[0].ravel(),
                                         "q50": qs[1].ravel(), "q75": qs[2].ravel()})
    if "path" in diag:
        qs = metrics.quantiles(diag["path"], QUANTILES, axis=0)
        tables["paths"] = pd.DataFrame({"cell_id": cell.id, "alpha": diagnostics.ALPHAS,
                                        **{f"q{round(q * 100):02d}": qs[i] for i, q in enumerate(QUANTILES)}})
    pictures = []
    if "plane" in diag:
        grid, coords, ticks = diag["plane"]
        u, v = np.meshgrid(ticks[0], ticks[1])
        pictures.append(pd.DataFrame({"cell_id": cell.id, "kind": "plane", "restart": -1,
                                      "x": u.ravel(), "y": v.ravel(), "loss": grid.ravel()}))
        pictures.append(pd.DataFrame({"cell_id": cell.id, "kind": "plane_points", "restart": [0, 0, -1],
                                      "x": coords[:, 0], "y": coords[:, 1],
                                      "loss": [np.nan, np.nan, np.nan]}))
    if "contour" in diag:
        grid, lows, highs, paths = diag["contour"]
        xs, ys = np.meshgrid(np.linspace(lows[0], highs[0], grid.shape[1]),
                             np.linspace(lows[1], highs[1], grid.shape[0]))
        pictures.append(pd.DataFrame({"cell_id": cell.id, "kind": "contour", "restart": -1,
                                      "x": xs.ravel(), "y": ys.ravel(), "loss": grid.ravel()}))
        k, n_ckpt = paths.shape[:2]
        pictures.append(pd.DataFrame({"cell_id": cell.id, "kind": "trajectory",
                                      "restart": np.repeat(np.arange(k), n_ckpt),
                                      "x": paths[..., 0].ravel(), "y": paths[..., 1].ravel(),
                                      "loss": np.nan, "step": np.tile(ckpt_steps, k)}))
    if pictures:
        tables["pictures"] = pd.concat(pictures, ignore_index=True)
    return tables
