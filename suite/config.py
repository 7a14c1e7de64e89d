"""Run configuration: TOML files and command-line flags, resolved into cells.

A config names landscapes and optimizers with parameter values; a list of
values is a sweep. Resolution checks every name and value against the
registry and expands the grid::

    seed = 0
    restarts = 256
    steps = 1000

    [[landscape]]
    name = "bowl"
    dim = 10
    condition = [10.0, 1000.0]     # a sweep: two landscape cells

    [[optimizer]]
    name = "adam"                  # unset learning_rate: the default sweep
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from suite.errors import UsageError
from suite.params import Param, lookup
from suite.registry import Registry
from suite.specs import LandscapeSpec, OptimizerSpec

# Precision targets Δf = f − f*: 10^k for k = 2, 1.8, ..., −8 (51 levels), as
# COCO's bbob testbed (Hansen et al., "COCO: a platform for comparing
# continuous optimizers in a black-box setting", arXiv:1603.08785).
DEFAULT_TARGETS = tuple(float(10.0 ** (k / 5)) for k in range(10, -41, -1))

RUN_KEYS = {
    "seed": "root of every random draw (landscape instances, starts, noise)",
    "restarts": "random restarts per cell",
    "instances": "random instances of each landscape setting (couplings, teacher, data, rotation)",
    "steps": "optimizer steps per restart",
    "targets": "precision levels Δf = f − f* that count as success (descending)",
    "checkpoints": "number of log-spaced steps at which losses are kept for curves",
    "chunk": "steps per compiled chunk (progress and early stop between chunks); 0: automatic",
    "batch": "most restarts per compiled batch; 0: sized to device memory",
    "plugins": "single-file plugins to load",
}


@dataclasses.dataclass
class Component:
    """One ``--landscape`` or ``--optimizer`` entry: a name and swept values."""

    name: str
    values: dict[str, list[Any]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class RunConfig:
    """Everything a run needs, before names are checked against the registry."""

    landscapes: list[Component]
    optimizers: list[Component]
    seed: int = 0
    restarts: int = 100
    instances: int = 1
    steps: int = 1000
    targets: tuple[float, ...] = DEFAULT_TARGETS
    checkpoints: int = 48
    chunk: int = 0
    batch: int = 0
    plugins: list[str] = dataclasses.field(default_factory=list)

    def check(self) -> None:
        """Checks the sizes; names and parameters are checked by :func:`resolve`."""
        for name, low in (("seed", 0), ("restarts", 1), ("instances", 1), ("steps", 1), ("checkpoints", 2),
                          ("chunk", 0), ("batch", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise UsageError(f"{name} must be an integer >= {low}; got {value!r}")
        targets = self.targets
        if (not targets or not all(isinstance(t, (int, float)) and not isinstance(t, bool)
                                   and t > 0 for t in targets)):
            raise UsageError(f"targets must be a non-empty list of positive numbers; got {targets!r}")
        if list(targets) != sorted(targets, reverse=True):
            raise UsageError("targets must be in descending order (the last is the hardest)")
        if not self.landscapes:
            raise UsageError("no landscape given; add --landscape NAME or a [[landscape]] table")
        if not self.optimizers:
            raise UsageError("no optimizer given; add --optimizer NAME or an [[optimizer]] table")


def parse_component(text: str, where: str) -> tuple[str, dict[str, list[str]]]:
    """Splits ``NAME:key=v1,v2:key=v`` into a name and raw value lists.

    ``where`` names the argument in error messages (``--landscape``).
    """
    name, *pairs = text.split(":")
    if not name:
        raise UsageError(f"{where} {text!r}: expected NAME[:key=value...]")
    values: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key or not raw:
            raise UsageError(f"{where} {text!r}: expected key=value, got {pair!r}")
        values[key] = raw.split(",")
    return name, values


def load_toml(path: str | Path) -> dict:
    """Reads a TOML config file with one-line errors."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise UsageError(f"config file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {str(path)!r} is not valid TOML: {exc}") from None


def from_toml(data: dict, source: str = "config") -> RunConfig:
    """Builds a :class:`RunConfig` from parsed TOML."""
    allowed = set(RUN_KEYS) | {"landscape", "optimizer"}
    for key in data:
        if key not in allowed:
            raise UsageError(
                f"unknown key {key!r} in {source}; choose from: {', '.join(sorted(allowed))}"
            )
    fields = {k: data[k] for k in RUN_KEYS if k in data}
    if "targets" in fields:
        fields["targets"] = tuple(fields["targets"]) if isinstance(fields["targets"], list) else fields["targets"]
    if "plugins" in fields and not (
        isinstance(fields["plugins"], list) and all(isinstance(p, str) for p in fields["plugins"])
    ):
        raise UsageError(f"plugins in {source} must be a list of file paths")
    components = {}
    for kind in ("landscape", "optimizer"):
        tables = data.get(kind, [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise UsageError(f"{kind} in {source} must be an array of tables ([[{kind}]])")
        components[kind] = []
        for table in tables:
            table = dict(table)
            name = table.pop("name", None)
            if not isinstance(name, str):
                raise UsageError(f"every [[{kind}]] in {source} needs name = \"...\"")
            components[kind].append(
                Component(name, {k: v if isinstance(v, list) else [v] for k, v in table.items()})
            )
    return RunConfig(landscapes=components["landscape"], optimizers=components["optimizer"], **fields)


def to_toml(config: RunConfig) -> str:
    """The config as TOML text; :func:`from_toml` reads it back unchanged."""
    data = {k: getattr(config, k) for k in RUN_KEYS}
    data["targets"] = list(config.targets)
    for kind, components in (("landscape", config.landscapes), ("optimizer", config.optimizers)):
        data[kind] = [
            {"name": c.name, **{k: v[0] if len(v) == 1 else list(v) for k, v in c.values.items()}}
            for c in components
        ]
    return tomli_w.dumps(data)


# --- resolution --------------------------------------------------------------


def label(name: str, values: dict) -> str:
    """Canonical, readable name of a setting: ``adam(b1=0.9, learning_rate=0.001)``."""
    return f"{name}(" + ", ".join(f"{k}={values[k]!r}" for k in sorted(values)) + ")"


@dataclasses.dataclass(frozen=True)
class LandscapeCell:
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


@dataclasses.dataclass(frozen=True)
class OptimizerSetting:
    """One optimizer with every hyperparameter set."""

    spec: OptimizerSpec
    values: dict

    @property
    def label(self) -> str:
        return label(self.spec.name, self.values)

    @property
    def static(self) -> tuple:
        """The values that shape the compiled program (non-float ones)."""
        return tuple((p.name, self.values[p.name]) for p in self.spec.params if not p.traced)


@dataclasses.dataclass(frozen=True)
class Cell:
    """One (landscape instance, optimizer, hyperparameters): a row of cells.parquet."""

    landscape: LandscapeCell
    optimizer: OptimizerSetting

    @property
    def id(self) -> str:
        text = f"{self.landscape.label}|{self.optimizer.label}"
        return hashlib.sha1(text.encode()).hexdigest()[:12]


def expand(params: tuple[Param, ...], given: dict[str, list], owner: str,
           base: dict[str, tuple]) -> list[dict]:
    """Every combination of parameter values: ``given`` (checked) over ``base`` over defaults."""
    grid = {p.name: [p.default] for p in params} | {k: list(v) for k, v in base.items()}
    for key, values in given.items():
        param = lookup(params, key, owner)
        if not values:
            raise UsageError(f"parameter {key!r} of {owner} has an empty list of values")
        grid[key] = [param.parse(v, owner) if isinstance(v, str) and param.type is not str
                     else param.check(v, owner) for v in values]
    names = [p.name for p in params]
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]


def resolve(config: RunConfig, registry: Registry) -> tuple[list[LandscapeCell], list[OptimizerSetting]]:
    """Checks every name and value and expands sweeps into settings."""
    config.check()
    landscapes = []
    for comp in config.landscapes:
        spec = registry.landscape(comp.name)
        owner = f"landscape {comp.name!r}"
        landscapes += [LandscapeCell(spec, v, i) for v in expand(spec.params, comp.values, owner, {})
                       for i in range(config.instances)]
    optimizers = []
    for comp in config.optimizers:
        spec = registry.optimizer(comp.name)
        owner = f"optimizer {comp.name!r}"
        optimizers += [OptimizerSetting(spec, v)
                       for v in expand(spec.params, comp.values, owner, spec.sweep)]
    return _unique(landscapes), _unique(optimizers)


def _unique(items):
    seen, out = set(), []
    for item in items:
        if item.label not in seen:
            seen.add(item.label)
            out.append(item)
    return out


def resolved_config(config: RunConfig, landscapes, optimizers) -> RunConfig:
    """The config with every parameter explicit: what ``config.toml`` records."""
    def components(items):
        # Instances of one landscape setting are one entry; `instances` recreates them.
        settings = {getattr(i, "setting_label", i.label): i for i in items}
        return [Component(i.spec.name, {k: [v] for k, v in i.values.items()}) for i in settings.values()]

    return dataclasses.replace(
        config,
        landscapes=components(landscapes),
        optimizers=components(optimizers),
        plugins=[str(Path(p).resolve()) for p in config.plugins],
    )


def checkpoint_steps(steps: int, count: int) -> np.ndarray:
    """About ``count`` log-spaced steps in [0, steps], always with 0 and ``steps``."""
    grid = np.unique(np.round(np.geomspace(1, steps, max(count - 1, 1))).astype(np.int64))
    return np.unique(np.concatenate([[0], grid, [steps]]))


def target_label(target: float) -> str:
    """Column suffix of a target: ``100``, ``63.1``, ``0.001``, ``1e-08``."""
    return f"{target:.3g}"
