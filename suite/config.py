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

    [[optimizer.wrap]]             # adam under staleness: wrappers chain onto
    name = "stale"                 # the optimizer above them, in order
    tau = 8

On the command line the same optimizer is ``adam+stale:tau=8``; ``--wrap``
(or top-level ``[[wrap]]`` tables) wraps every optimizer of the run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import re
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from suite.errors import UsageError
from suite.params import Param, lookup
from suite.registry import Registry
from suite.specs import LandscapeSpec, OptimizerSpec, WrapperSpec

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
    "devices": "local devices the restarts shard over; 0: all of them",
    "matmul_precision": "float32 matrix multiplies: default (TF32 on recent GPUs), float32, or bfloat16",
    "plugins": "single-file plugins to load",
    "diagnostics": "landscape diagnostics to compute: hessian, layers, path, minima, pictures (default none)",
    "diagnose_restarts": "restarts per cell whose end points the diagnostics examine, the first ones "
                         "(0: all on landscapes of up to 100 parameters, else 64)",
}
DIAGNOSTICS = ("hessian", "layers", "path", "minima", "pictures")  # suite.diagnostics.DIAGNOSTICS
MATMUL_PRECISIONS = ("default", "float32", "tensorfloat32", "bfloat16")
# A wrapper starts where "+" is followed by a name: "1e+3" stays one number.
_WRAP_SPLIT = re.compile(r"\+(?=[A-Za-z_])")


@dataclasses.dataclass
class Component:
    """One ``--landscape``, ``--optimizer`` or wrapper entry: a name and swept values.

    ``wrappers`` (optimizers only) chain onto it in order: each wraps
    everything before it.
    """

    name: str
    values: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    wrappers: list[Component] = dataclasses.field(default_factory=list)


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
    devices: int = 0
    matmul_precision: str = "default"
    plugins: list[str] = dataclasses.field(default_factory=list)
    wrappers: list[Component] = dataclasses.field(default_factory=list)  # around every optimizer
    diagnostics: list[str] = dataclasses.field(default_factory=list)
    diagnose_restarts: int = 0

    def check(self) -> None:
        """Checks the sizes; names and parameters are checked by :func:`resolve`."""
        for name, low in (("seed", 0), ("restarts", 1), ("instances", 1), ("steps", 1), ("checkpoints", 2),
                          ("chunk", 0), ("batch", 0), ("devices", 0), ("diagnose_restarts", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise UsageError(f"{name} must be an integer >= {low}; got {value!r}")
        targets = self.targets
        if (not targets or not all(isinstance(t, (int, float)) and not isinstance(t, bool)
                                   and t > 0 for t in targets)):
            raise UsageError(f"targets must be a non-empty list of positive numbers; got {targets!r}")
        if list(targets) != sorted(targets, reverse=True):
            raise UsageError("targets must be in descending order (the last is the hardest)")
        if self.matmul_precision not in MATMUL_PRECISIONS:
            raise UsageError(f"matmul_precision must be one of {', '.join(MATMUL_PRECISIONS)}; "
                             f"got {self.matmul_precision!r}")
        if not isinstance(self.diagnostics, list) or not all(isinstance(d, str) for d in self.diagnostics):
            raise UsageError(f"diagnostics must be a list of names; got {self.diagnostics!r}")
        for name in self.diagnostics:
            if name not in DIAGNOSTICS:
                raise UsageError(f"unknown diagnostic {name!r}; choose from: {', '.join(DIAGNOSTICS)}, all")
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


def parse_optimizer(text: str, where: str = "--optimizer") -> Component:
    """Parses ``NAME[:k=v...][+WRAPPER[:k=v...]...]``, e.g. ``adam:learning_rate=1e-3+stale:tau=8``."""
    head, *wraps = _WRAP_SPLIT.split(text)
    if any(not w for w in wraps) or text.endswith("+"):
        raise UsageError(f"{where} {text!r}: expected NAME[:k=v...][+WRAPPER[:k=v...]...]")
    component = Component(*parse_component(head, where))
    component.wrappers = [Component(*parse_component(w, where)) for w in wraps]
    return component


def _tables(value, what: str, source: str) -> list[Component]:
    """``[[landscape]]``-style array of tables as components (optimizers keep their ``wrap``)."""
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise UsageError(f"{what} in {source} must be an array of tables ([[{what}]])")
    components = []
    for table in value:
        table = dict(table)
        name = table.pop("name", None)
        if not isinstance(name, str):
            raise UsageError(f"every [[{what}]] in {source} needs name = \"...\"")
        wrappers = _tables(table.pop("wrap"), f"{what}.wrap", source) if (
            what == "optimizer" and "wrap" in table) else []
        components.append(Component(name, {k: v if isinstance(v, list) else [v] for k, v in table.items()},
                                    wrappers))
    return components


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
    allowed = set(RUN_KEYS) | {"landscape", "optimizer", "wrap"}
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
    components = {kind: _tables(data.get(kind, []), kind, source) for kind in ("landscape", "optimizer", "wrap")}
    return RunConfig(landscapes=components["landscape"], optimizers=components["optimizer"],
                     wrappers=components["wrap"], **fields)


def to_toml(config: RunConfig) -> str:
    """The config as TOML text; :func:`from_toml` reads it back unchanged."""
    data = {k: getattr(config, k) for k in RUN_KEYS}
    data["targets"] = list(config.targets)

    def table(c: Component) -> dict:
        out = {"name": c.name, **{k: v[0] if len(v) == 1 else list(v) for k, v in c.values.items()}}
        if c.wrappers:
            out["wrap"] = [table(w) for w in c.wrappers]
        return out

    for kind, components in (("landscape", config.landscapes), ("optimizer", config.optimizers),
                             ("wrap", config.wrappers)):
        if components or kind != "wrap":
            data[kind] = [table(c) for c in components]
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

    @property
    def label(self) -> str:
        """``adam(b1=0.9, ...)+stale(tau=8)``: names the setting, and its cell."""
        return "+".join([label(self.spec.name, self.values), *(w.label for w in self.wrappers)])

    @property
    def entry(self) -> str:
        """What the leaderboard ranks: ``adam+stale(tau=8)``, at its best hyperparameters.

        Wrapper values belong to the entry: they set the condition studied
        (a delay, a noise level), which the selection never tunes away. Values
        equal to the wrapper's defaults are left out of the name (the
        ``p_wrap_*`` columns hold them all).
        """
        def short(w: WrapperSetting) -> str:
            changed = {k: v for k, v in w.values.items() if v != w.spec.defaults.get(k)}
            return label(w.spec.name, changed) if changed else w.spec.name

        return "+".join([self.spec.name, *(short(w) for w in self.wrappers)])

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
        chains = _wrapper_chains([*comp.wrappers, *config.wrappers], registry, comp.name)
        optimizers += [OptimizerSetting(spec, v, chain) for v in expand(spec.params, comp.values, owner, spec.sweep)
                       for chain in chains]
    return _unique(landscapes), _unique(optimizers)


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
    return list(itertools.product(*options))


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
        return [Component(i.spec.name, {k: [v] for k, v in i.values.items()},
                          components(getattr(i, "wrappers", ()))) for i in settings.values()]

    return dataclasses.replace(
        config,
        landscapes=components(landscapes),
        optimizers=components(optimizers),
        wrappers=[],  # run-wide wrappers are now part of every optimizer
        plugins=[str(Path(p).resolve()) for p in config.plugins],
    )


def checkpoint_steps(steps: int, count: int) -> np.ndarray:
    """About ``count`` log-spaced steps in [0, steps], always with 0 and ``steps``."""
    grid = np.unique(np.round(np.geomspace(1, steps, max(count - 1, 1))).astype(np.int64))
    return np.unique(np.concatenate([[0], grid, [steps]]))


def target_label(target: float) -> str:
    """Column suffix of a target: ``100``, ``63.1``, ``0.001``, ``1e-08``."""
    return f"{target:.3g}"
