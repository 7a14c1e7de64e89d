"""The plan: a config resolved against the registry into settings and cells.

Resolution checks every name and value, expands sweeps (and tuning budgets)
into optimizer settings, and pairs every landscape setting with every
optimizer setting: a :class:`Cell` is one row of ``cells.parquet``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
from pathlib import Path

import numpy as np

from suite.config import CONDITIONS_KEY, MAX_SETTINGS, SWEEP_KEY, Component, RunConfig, budget_of
from suite.errors import UsageError
from suite.params import Param, lookup
from suite.registry import Registry
from suite.specs import LandscapeSpec, OptimizerSpec, WrapperSpec

def label(name: str, values: dict) -> str:
    """Canonical, readable name of a setting: ``adam(b1=0.9, learning_rate=0.001)``."""
    return f"{name}(" + ", ".join(f"{k}={values[k]!r}" for k in sorted(values)) + ")"


@dataclasses.dataclass(frozen=True)
class LandscapeSetting:
    """One instance of a landscape with every parameter set.

    Instance ``i`` of a setting is drawn from a key derived from the run seed,
    the setting and ``i``; instance 0 keeps the plain label, so raising
    ``instances`` on a resumed run reuses every finished cell.
    """

    spec: LandscapeSpec
    values: dict
    instance: int = 0

    @property
    def setting_label(self) -> str:
        return label(self.spec.name, self.values)

    @property
    def label(self) -> str:
        suffix = f"#{self.instance}" if self.instance else ""
        return self.setting_label + suffix

    @property
    def draw_label(self) -> str:
        """The setting label without the parameters that do not change its draws (``Param.keyed``)."""
        unkeyed = {p.name for p in self.spec.params if not p.keyed}
        return label(self.spec.name, {k: v for k, v in self.values.items() if k not in unkeyed})


@dataclasses.dataclass(frozen=True)
class WrapperSetting:
    """One wrapper with every parameter set."""

    spec: WrapperSpec
    values: dict

    @property
    def label(self) -> str:
        return label(self.spec.name, self.values)

    @property
    def static(self) -> tuple:
        """The values that shape the compiled program (non-float ones)."""
        return _static(self.spec.params, self.values)


def _static(params, values) -> tuple:
    return tuple((p.name, values[p.name]) for p in params if not p.traced)


@dataclasses.dataclass(frozen=True)
class OptimizerSetting:
    """One optimizer with every hyperparameter set, and the wrappers around it (inner first)."""

    spec: OptimizerSpec
    values: dict
    wrappers: tuple[WrapperSetting, ...] = ()
    fixed: tuple[str, ...] = ()  # hyperparameters the user gave: conditions, part of the entry

    @property
    def label(self) -> str:
        """``adam(b1=0.9, ...)+stale(tau=8)``: names the setting, and its cell."""
        return "+".join([label(self.spec.name, self.values), *(w.label for w in self.wrappers)])

    @property
    def entry(self) -> str:
        """What the leaderboard ranks: ``momentum(momentum=0.5)+stale(tau=8)``, at its best tuned setting.

        Values the user gave (``fixed``) and wrapper values belong to the
        entry: they set the condition studied (a delay, a noise level, a value
        typed on purpose), which the selection never tunes away. Wrapper
        values equal to the wrapper's defaults are left out of the name (the
        ``p_wrap_*`` columns hold them all).
        """
        def short(w: WrapperSetting) -> str:
            changed = {k: v for k, v in w.values.items() if v != w.spec.defaults.get(k)}
            return label(w.spec.name, changed) if changed else w.spec.name

        head = label(self.spec.name, {k: self.values[k] for k in self.fixed}) if self.fixed else self.spec.name
        return "+".join([head, *(short(w) for w in self.wrappers)])

    @property
    def static(self) -> tuple:
        """The values that shape the compiled program (non-float ones), wrappers' included."""
        return _static(self.spec.params, self.values) + tuple(
            (w.spec.name, w.static) for w in self.wrappers)

    @property
    def traced(self) -> dict:
        """The float values, the compiled program's inputs; wrapper ones as ``wrapper.name``."""
        out = {p.name: self.values[p.name] for p in self.spec.params if p.traced}
        for w in self.wrappers:
            out |= {f"{w.spec.name}.{p.name}": w.values[p.name] for p in w.spec.params if p.traced}
        return out


@dataclasses.dataclass(frozen=True)
class Cell:
    """One (landscape instance, optimizer, hyperparameters): a row of cells.parquet."""

    landscape: LandscapeSetting
    optimizer: OptimizerSetting

    @property
    def id(self) -> str:
        text = f"{self.landscape.label}|{self.optimizer.label}"
        if self.optimizer.fixed:
            # The same values can be a condition of one entry and a tuned setting
            # of another: two cells. (Without conditions the id is as before.)
            text += f"|{self.optimizer.entry}"
        return hashlib.sha1(text.encode()).hexdigest()[:12]


def expand(params: tuple[Param, ...], given: dict[str, list], owner: str,
           base: dict[str, tuple]) -> list[dict]:
    """Every combination of parameter values: ``given`` (checked) over ``base`` over defaults."""
    grid = {p.name: [p.default] for p in params} | {k: list(v) for k, v in base.items()}
    for key, values in given.items():
        grid[key] = _checked(lookup(params, key, owner), values, owner)
    names = [p.name for p in params]
    _fits(math.prod(len(grid[n]) for n in names), f"the values of {owner}")
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]


def _count(params: tuple[Param, ...], given: dict[str, list], base: dict[str, tuple]) -> int:
    """How many settings :func:`expand` makes of these values, before it checks them."""
    sizes = {p.name: 1 for p in params} | {k: len(v) for k, v in base.items()} | {
        k: len(v) for k, v in given.items()}
    return math.prod(sizes[p.name] for p in params)


def _fits(count: int, what: str, unit: str = "settings", hint: str = "sweep fewer values") -> None:
    """A one-line error where a plan would grow beyond what a run can hold (:data:`MAX_SETTINGS`)."""
    if count > MAX_SETTINGS:
        raise UsageError(f"{what} make {count:,} {unit}; a run holds at most {MAX_SETTINGS:,}: {hint}")


def _checked(param: Param, values: list, owner: str) -> list:
    """Values from the command line (text) or a config (typed), checked against ``param``."""
    if not values:
        raise UsageError(f"parameter {param.name!r} of {owner} has an empty list of values")
    return [param.parse(v, owner) if isinstance(v, str) and param.type is not str
            else param.check(v, owner) for v in values]


def resolve(config: RunConfig, registry: Registry) -> tuple[list[LandscapeSetting], list[OptimizerSetting]]:
    """Checks every name and value and expands sweeps into settings."""
    config.check()
    landscapes = []
    for comp in config.landscapes:
        spec = registry.landscape(comp.name)
        owner = f"landscape {comp.name!r}"
        settings = expand(spec.params, comp.values, owner, {})
        _fits(len(landscapes) + len(settings) * config.instances,
              f"the landscapes ({config.instances:,} instance{'s' if config.instances > 1 else ''} of each)",
              hint="sweep fewer values or ask fewer instances")
        landscapes += [LandscapeSetting(spec, v, i) for v in settings for i in range(config.instances)]
    optimizers = []
    budget = budget_of(config.tuning)
    made: dict[str, int] = {}  # entry -> the user's optimizer entry (position) that made it
    for position, comp in enumerate(config.optimizers):
        spec = registry.optimizer(comp.name)
        owner = f"optimizer {comp.name!r}"
        chains = _wrapper_chains([*comp.wrappers, *config.wrappers], registry, comp.name)
        fixed = tuple(sorted(comp.values if comp.conditions is None else comp.conditions))
        for name in fixed:
            if name not in comp.values:
                raise UsageError(f"{CONDITIONS_KEY} of {owner} names {name!r}, which has no value; "
                                 f"give it one or drop it from {CONDITIONS_KEY}")
        own_grid = {}
        for name, values in comp.sweep.items():
            if name in comp.values:
                raise UsageError(f"{owner}: {name!r} has a value and a {SWEEP_KEY}.{name} grid; "
                                 f"a value is a condition, a grid is tuned: give one of them")
            own_grid[name] = tuple(_checked(lookup(spec.params, name, owner), values, owner))
        tuned = {k: tuple(v) for k, v in spec.sweep.items() if k not in comp.values} | own_grid
        # A budget samples the range of every grid, declared or the user's own.
        count = ((budget if any(p.name in tuned for p in spec.params) else 1) * _count(spec.params, comp.values, {})
                 if budget else _count(spec.params, comp.values, tuned))
        _fits(len(optimizers) + count * len(chains), f"the optimizers up to {owner} (values, grids and wrappers "
              f"multiply)", hint="sweep fewer values, or tune over a smaller grid or budget")
        grids = budget_points(spec.params, tuned, budget) if budget else [tuned]
        mine = [OptimizerSetting(spec, values, chain, fixed)
                for grid in grids for values in expand(spec.params, comp.values, owner, grid) for chain in chains]
        if comp.conditions is None:  # written by the user (a resolved config.toml lists every setting apart)
            for entry in dict.fromkeys(o.entry for o in mine):
                if made.setdefault(entry, position) != position:
                    raise UsageError(
                        f"optimizers {made[entry] + 1} and {position + 1} both make the entry {entry!r}; an "
                        f"entry is tuned once: set them apart with a value or a wrapper, or give one grid "
                        f"({SWEEP_KEY}.NAME=...)")
        optimizers += mine
    landscapes, optimizers = _unique(landscapes), _unique(optimizers)
    _fits(len(landscapes) * len(optimizers), f"{len(landscapes):,} landscape settings × {len(optimizers):,} "
          f"optimizer settings", "cells", "sweep fewer values")
    return landscapes, optimizers


def budget_points(params: tuple[Param, ...], space: dict[str, tuple], n: int) -> list[dict[str, tuple]]:
    """``n`` quasi-random settings from a search space, each as a one-value grid.

    The space of a hyperparameter is the range of its sweep grid: log-uniform
    when every value is positive (learning rates, as AlgoPerf samples them), else
    uniform; integer, boolean and string hyperparameters pick one of the
    declared values. Points are the Halton sequence (bases 2, 3, 5, ...) from its
    second point, so every optimizer with a space of the same dimension is
    given the same points, and a resumed run the same settings. Floats are
    rounded to 3 significant digits, which keeps labels readable. With nothing
    to tune there is one setting: the budget cannot buy anything.
    """
    names = [p.name for p in params if p.name in space]
    if not names:
        return [{}]
    by_name = {p.name: p for p in params}
    points = []
    for i in range(1, n + 1):
        point = {}
        for d, name in enumerate(names):
            u = _halton(i, _PRIMES[d % len(_PRIMES)])
            values = space[name]
            if by_name[name].type is float and len(values) > 1:
                low, high = float(min(values)), float(max(values))
                if low > 0:
                    value = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
                elif math.isfinite(high - low):
                    value = low + u * (high - low)
                else:  # a range wider than the largest float
                    value = (1 - u) * low + u * high
                # 3 significant digits, or more where rounding leaves the grid's range
                # (1.8e308 is infinite; 0.123 is below a bound of 0.12345).
                point[name] = (_rounded(value, low, high),)
            else:
                point[name] = (values[min(int(u * len(values)), len(values) - 1)],)
        points.append(point)
    return points


_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29)


def _rounded(value: float, low: float, high: float) -> float:
    """``value`` to 3 significant digits (readable labels), or as few more as keep it in [low, high]."""
    for digits in range(3, 18):
        rounded = float(f"{value:.{digits}g}")
        if low <= rounded <= high:
            return rounded
    return min(max(value, low), high)


def _halton(i: int, base: int) -> float:
    """The i-th element of the van der Corput sequence in ``base``: a Halton coordinate in [0, 1)."""
    f, r = 1.0, 0.0
    while i > 0:
        f /= base
        r += f * (i % base)
        i //= base
    return r


def _wrapper_chains(components: list[Component], registry: Registry, optimizer: str) -> list[tuple]:
    """Every combination of the wrappers' swept values, as chains of settings (inner first)."""
    names = [c.name for c in components]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UsageError(f"wrapper {repeated[0]!r} is given twice for optimizer {optimizer!r}; "
                         f"give it once, with a list of values to sweep")
    options = []
    for comp in components:
        spec = registry.wrapper(comp.name)
        owner = f"wrapper {comp.name!r}"
        options.append([WrapperSetting(spec, v) for v in expand(spec.params, comp.values, owner, {})])
    _fits(math.prod(len(o) for o in options), f"the wrappers of optimizer {optimizer!r}")
    return list(itertools.product(*options))


def _unique(items):
    seen, out = set(), []
    for item in items:
        key = (item.label, getattr(item, "entry", ""))
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def resolved_config(config: RunConfig, landscapes, optimizers) -> RunConfig:
    """The config with every parameter explicit: what ``config.toml`` records."""
    def components(items, optimizers=False):
        # Instances of one landscape setting are one entry; `instances` recreates them.
        settings = {(getattr(i, "setting_label", i.label), getattr(i, "entry", "")): i for i in items}
        # Every value is written out; `conditions` says which of them the user
        # gave, so a resumed run resolves to the same cells and entries.
        return [Component(i.spec.name, {k: [v] for k, v in i.values.items()},
                          components(getattr(i, "wrappers", ())),
                          conditions=list(i.fixed) if optimizers else None) for i in settings.values()]

    return dataclasses.replace(
        config,
        landscapes=components(landscapes),
        optimizers=components(optimizers, optimizers=True),
        wrappers=[],  # run-wide wrappers are now part of every optimizer
        plugins=[str(Path(p).resolve()) for p in config.plugins],
    )


def checkpoint_steps(steps: int, count: int) -> np.ndarray:
    """About ``count`` log-spaced steps in [0, steps], always with 0 and ``steps``."""
    grid = np.unique(np.round(np.geomspace(1, steps, max(count - 1, 1))).astype(np.int64))
    return np.unique(np.concatenate([[0], grid, [steps]]))


def plan_record(cells: list[Cell], landscapes: list[LandscapeSetting], optimizers: list[OptimizerSetting]) -> dict:
    """What ``plan.json`` records: every planned cell, and the components' own descriptions.

    Each component names its plugin and the plugin's ``source``: the
    distribution and version it was installed from, or the file's path and
    sha256 (``{}`` where the registry did not say).
    """
    def describe(spec) -> dict:
        return {"doc": spec.doc, "plugin": spec.plugin, "source": dict(getattr(spec, "source", None) or {})}

    components = {"landscapes": {}, "optimizers": {}, "wrappers": {}}
    for item in landscapes:
        components["landscapes"][item.spec.name] = describe(item.spec)
    for setting in optimizers:
        components["optimizers"][setting.spec.name] = describe(setting.spec)
        for w in setting.wrappers:
            components["wrappers"][w.spec.name] = describe(w.spec)
    return {"cells": [{"cell_id": c.id, "landscape_label": c.landscape.label,
                       "optimizer_label": c.optimizer.label, "entry": c.optimizer.entry} for c in cells],
            "components": components}


def __getattr__(name):
    if name == "LandscapeCell":  # renamed: it is a landscape setting, a cell pairs it with an optimizer's
        import warnings

        warnings.warn("LandscapeCell is renamed suite.plan.LandscapeSetting; the old name goes in the next release",
                      DeprecationWarning, stacklevel=2)
        return LandscapeSetting
    raise AttributeError(f"module 'suite.plan' has no attribute {name!r}")
