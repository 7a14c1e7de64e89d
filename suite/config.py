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
    name = "adam"                  # unset learning_rate: tuned over the default sweep

    [[optimizer]]
    name = "momentum"
    momentum = 0.5                 # a value you give is a condition: its own entry,
    sweep.learning_rate = [0.01, 0.1]   # tuned over a grid of your own

    [[optimizer.wrap]]             # adam under staleness: wrappers chain onto
    name = "stale"                 # the optimizer above them, in order
    tau = 8

On the command line the same optimizer is ``adam+stale:tau=8``; ``--wrap``
(or top-level ``[[wrap]]`` tables) wraps every optimizer of the run.

Conditions and tuning. A hyperparameter value the user gives (``momentum:momentum=0.5``,
or ``momentum = 0.5`` in a table) is a *condition* of the experiment: it names its
own leaderboard entry (``momentum(momentum=0.5)``), and a list of values makes one
entry per value. The selection only tunes what the user left unset: over the
optimizer's declared sweep (``tuning = "grid"``), over a grid the user gives as
``sweep.NAME = [...]``, or over exactly N quasi-random settings per optimizer
(``tuning = "budget:N"``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
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
    "precision": "float32 or float64 (JAX's x64 mode) for every point, loss and summary",
    "stop_at_target": "fixed-target mode: a restart stops at the last target (final loss is the loss "
                      "there); default false: every restart runs every step and final loss is f(x_T)",
    "tuning": "how unset hyperparameters are tuned: grid (each optimizer's declared sweep) or budget:N "
              "(exactly N quasi-random settings per optimizer from its declared range)",
    "plugins": "single-file plugins to load",
    "diagnostics": "landscape diagnostics to compute: hessian, layers, path, minima, pictures (default none)",
    "diagnose_restarts": "restarts per cell whose end points the diagnostics examine, the first ones "
                         "(0: all on landscapes of up to 100 parameters, else 64)",
}
DIAGNOSTICS = ("hessian", "layers", "path", "minima", "pictures")  # suite.diagnostics.DIAGNOSTICS
MATMUL_PRECISIONS = ("default", "float32", "tensorfloat32", "bfloat16")
PRECISIONS = ("float32", "float64")
# Keys of an [[optimizer]] table that are not hyperparameters: its wrappers, a
# tuning grid of the user's own, and (in a resolved config.toml) which of the
# values are conditions, so that a resumed run makes the same entries.
SWEEP_KEY, CONDITIONS_KEY = "sweep", "conditions"
# A wrapper starts where "+" is followed by a name: "1e+3" stays one number.
_WRAP_SPLIT = re.compile(r"\+(?=[A-Za-z_])")


@dataclasses.dataclass
class Component:
    """One ``--landscape``, ``--optimizer`` or wrapper entry: a name and swept values.

    ``wrappers`` (optimizers only) chain onto it in order: each wraps
    everything before it. ``sweep`` (optimizers only) is a tuning grid of the
    user's own for hyperparameters not in ``values``. ``conditions`` names the
    values that are conditions (their own entry); ``None``: all of ``values``.
    """

    name: str
    values: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    wrappers: list[Component] = dataclasses.field(default_factory=list)
    sweep: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    conditions: list[str] | None = None


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
    precision: str = "float32"
    stop_at_target: bool = False
    tuning: str = "grid"
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
        if self.precision not in PRECISIONS:
            raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}")
        if not isinstance(self.stop_at_target, bool):
            raise UsageError(f"stop_at_target must be true or false; got {self.stop_at_target!r}")
        budget_of(self.tuning)
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


def budget_of(tuning) -> int:
    """N of ``tuning = "budget:N"``; 0 for ``"grid"``; a one-line error otherwise."""
    if tuning == "grid":
        return 0
    head, sep, tail = str(tuning).partition(":")
    if isinstance(tuning, str) and head == "budget" and sep and tail.isdigit() and int(tail) >= 1:
        return int(tail)
    raise UsageError(f"tuning must be grid or budget:N with N >= 1 settings per optimizer; got {tuning!r}")


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
    name, values = parse_component(head, where)
    prefix = SWEEP_KEY + "."
    sweep = {k.removeprefix(prefix): v for k, v in values.items() if k.startswith(prefix)}
    values = {k: v for k, v in values.items() if not k.startswith(prefix)}
    component = Component(name, values, sweep=sweep)
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
        sweep, conditions = {}, None
        if what == "optimizer":
            sweep = table.pop(SWEEP_KEY, {})
            if not isinstance(sweep, dict):
                raise UsageError(f"{SWEEP_KEY} of optimizer {name!r} in {source} must be a table of "
                                 f"lists, e.g. {SWEEP_KEY}.learning_rate = [0.01, 0.1]")
            sweep = {k: v if isinstance(v, list) else [v] for k, v in sweep.items()}
            conditions = table.pop(CONDITIONS_KEY, None)
            if conditions is not None and not (isinstance(conditions, list)
                                               and all(isinstance(c, str) for c in conditions)):
                raise UsageError(f"{CONDITIONS_KEY} of optimizer {name!r} in {source} must be a list of "
                                 f"hyperparameter names")
        components.append(Component(name, {k: v if isinstance(v, list) else [v] for k, v in table.items()},
                                    wrappers, sweep, conditions))
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
        if c.sweep:
            out[SWEEP_KEY] = {k: list(v) for k, v in c.sweep.items()}
        if c.conditions is not None:
            out[CONDITIONS_KEY] = list(c.conditions)
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

    landscape: LandscapeCell
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
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]


def _checked(param: Param, values: list, owner: str) -> list:
    """Values from the command line (text) or a config (typed), checked against ``param``."""
    if not values:
        raise UsageError(f"parameter {param.name!r} of {owner} has an empty list of values")
    return [param.parse(v, owner) if isinstance(v, str) and param.type is not str
            else param.check(v, owner) for v in values]


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
    return _unique(landscapes), _unique(optimizers)


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
                else:
                    value = low + u * (high - low)
                point[name] = (float(f"{value:.3g}"),)
            else:
                point[name] = (values[min(int(u * len(values)), len(values) - 1)],)
        points.append(point)
    return points


_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29)


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


def target_label(target: float) -> str:
    """Column suffix of a target: ``100``, ``63.1``, ``0.001``, ``1e-08``."""
    return f"{target:.3g}"
