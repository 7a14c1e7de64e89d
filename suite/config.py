"""Run configuration: TOML files and command-line flags, before names are checked.

A config names landscapes and optimizers with parameter values; a list of
values is a sweep. Resolution (:mod:`suite.plan`) checks every name and value
against the registry and expands the grid::

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
import math
import numbers
import re
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from suite.errors import UsageError, shown

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
    "chunk": "steps per chunk (progress and early stop between chunks); 0: sized to about a second each",
    "batch": "most restarts per compiled batch; 0: sized to device memory",
    "devices": "local devices the restarts shard over; 0: all of them",
    "matmul_precision": "float32 matrix multiplies: default (TF32 on recent GPUs), float32, or bfloat16",
    "precision": "float32 or float64 (JAX's x64 mode) for every point, loss and summary",
    "stop_at_target": "fixed-target mode: a restart stops at the last target (final loss is the loss "
                      "there); default false: every restart runs every step and final loss is f(x_T)",
    "tuning": "how unset hyperparameters are tuned: grid (each optimizer's declared sweep) or budget:N "
              "(exactly N quasi-random settings per optimizer from its declared range)",
    "plugins": "single-file plugins to load",
    "diagnostics": "landscape diagnostics to compute: hessian, layers, path, minima, pictures, sparsity "
                   "(default none)",
    "diagnose_restarts": "restarts per cell whose end points the diagnostics examine, the first ones "
                         "(0: all on landscapes of up to 100 coordinates, else 64)",
}
_NO_LIMIT = 2**63 - 1
# Integer run keys: (lowest, highest). The seed is a 32-bit key (JAX's default
# PRNG folds it to 32 bits, so 2**32 would silently repeat seed 0); steps count
# in int32 on the device.
INTEGER_RANGES = {"seed": (0, 2**32 - 1), "restarts": (1, 2**31 - 1), "instances": (1, 2**31 - 1),
                  "steps": (1, 2**31 - 2), "checkpoints": (2, 10_000), "chunk": (0, 2**31 - 1),
                  "batch": (0, 2**31 - 1), "devices": (0, _NO_LIMIT), "diagnose_restarts": (0, 2**31 - 1)}
# Landscape diagnostics a run can ask for; suite.diagnostics computes them.
DIAGNOSTICS = ("hessian", "layers", "path", "minima", "pictures", "sparsity")
MATMUL_PRECISIONS = ("default", "float32", "tensorfloat32", "bfloat16")
PRECISIONS = ("float32", "float64")
# Keys of an [[optimizer]] table that are not hyperparameters: its wrappers, a
# tuning grid of the user's own, and (in a resolved config.toml) which of the
# values are conditions, so that a resumed run makes the same entries.
SWEEP_KEY, CONDITIONS_KEY = "sweep", "conditions"
# Most landscape settings, optimizer settings and cells one run may hold (and the
# largest tuning budget): the plan of a larger run would fill memory before it
# could start, and its cells would never finish.
MAX_SETTINGS = 1_000_000
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
    # A study's [study] table (claim, references, tolerance, size): kept with the run, measures nothing.
    study: dict = dataclasses.field(default_factory=dict)

    def check(self) -> None:
        """Checks sizes and kinds (and normalizes numpy numbers, ``all`` diagnostics); names
        and parameters are checked by :func:`suite.plan.resolve`."""
        for name, (low, high) in INTEGER_RANGES.items():
            value = getattr(self, name)
            if isinstance(value, numbers.Integral) and not isinstance(value, bool):
                value = int(value)
                setattr(self, name, value)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise UsageError(f"{name} must be an integer >= {low}; got {shown(value)}")
            if value > high:
                raise UsageError(f"{name} must be at most {high}; got {shown(value)}")
        targets = self.targets
        if not isinstance(targets, (list, tuple)) or not targets or not all(map(_positive_finite, targets)):
            raise UsageError(f"targets must be a non-empty list of positive finite numbers; got {shown(targets)}")
        self.targets = tuple(float(t) for t in targets)
        if list(self.targets) != sorted(self.targets, reverse=True):
            raise UsageError("targets must be in descending order (the last is the hardest)")
        from suite.metrics import target_label  # the tables' column names: one per target

        labels = [target_label(t) for t in self.targets]
        clash = next((i for i in range(1, len(labels)) if labels[i] == labels[i - 1]), None)
        if clash is not None:
            raise UsageError(f"targets {self.targets[clash - 1]!r} and {self.targets[clash]!r} are too close: both "
                             f"are named {labels[clash]!r} (3 significant digits) in the tables; drop one")
        if not isinstance(self.precision, str) or self.precision not in PRECISIONS:
            raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}; got {shown(self.precision)}")
        if not isinstance(self.stop_at_target, bool):
            raise UsageError(f"stop_at_target must be true or false; got {shown(self.stop_at_target)}")
        budget_of(self.tuning)
        if not isinstance(self.matmul_precision, str) or self.matmul_precision not in MATMUL_PRECISIONS:
            raise UsageError(f"matmul_precision must be one of {', '.join(MATMUL_PRECISIONS)}; "
                             f"got {shown(self.matmul_precision)}")
        if not isinstance(self.plugins, list) or not all(isinstance(f, str) for f in self.plugins):
            raise UsageError(f"plugins must be a list of plugin file paths; got {shown(self.plugins)}")
        if not isinstance(self.diagnostics, list) or not all(isinstance(d, str) for d in self.diagnostics):
            raise UsageError(f"diagnostics must be a list of names; got {shown(self.diagnostics)}")
        if "all" in self.diagnostics:
            self.diagnostics = list(DIAGNOSTICS)
        for name in self.diagnostics:
            if name not in DIAGNOSTICS:
                raise UsageError(f"unknown diagnostic {name!r}; choose from: {', '.join(DIAGNOSTICS)}, all")
        for kind, items in (("landscape", self.landscapes), ("optimizer", self.optimizers),
                            ("wrapper", self.wrappers)):
            for item in items if isinstance(items, list) else [items]:
                _check_component(item, kind)
        if not self.landscapes:
            raise UsageError("no landscape given; add --landscape NAME or a [[landscape]] table")
        if not self.optimizers:
            raise UsageError("no optimizer given; add --optimizer NAME or an [[optimizer]] table")


def _positive_finite(t) -> bool:
    if isinstance(t, bool) or not isinstance(t, numbers.Real):
        return False
    try:
        return 0 < float(t) < math.inf
    except (OverflowError, ValueError, TypeError):  # an integer beyond floats
        return False


def _check_component(item, kind: str) -> None:
    """A landscape, optimizer or wrapper entry, and an optimizer's wrappers: fields of the right kinds."""
    if not isinstance(item, Component):
        raise UsageError(f"{kind} {shown(item)} is not a suite.config.Component; give text such as "
                         f"'bowl:dim=10' or a table to suite.run, which makes them")
    if not isinstance(item.name, str):
        raise UsageError(f"a {kind} name must be a string such as 'bowl'; got {shown(item.name)}")
    for field in ("values", "sweep"):
        table = getattr(item, field)
        if not isinstance(table, dict):
            raise UsageError(f"{kind} {item.name!r}: {field} must map each parameter name to a non-empty list "
                             f"of values (a sweep); got {shown(table)}")
        for key, values in table.items():
            if not isinstance(key, str):
                raise UsageError(f"{kind} {item.name!r}: parameter names must be strings; got {shown(key)}")
            if not isinstance(values, list) or not values:
                raise UsageError(f"{kind} {item.name!r}: {field} {key!r} must be a non-empty list of values "
                                 f"(a sweep); got {shown(values)}")
    if kind != "optimizer" and (item.sweep or item.wrappers or item.conditions is not None):
        raise UsageError(f"{kind} {item.name!r}: only an optimizer has a {SWEEP_KEY} grid, wrappers or "
                         f"{CONDITIONS_KEY}")
    if item.conditions is not None and not (isinstance(item.conditions, list)
                                            and all(isinstance(c, str) for c in item.conditions)):
        raise UsageError(f"{kind} {item.name!r}: {CONDITIONS_KEY} must be a list of hyperparameter names; "
                         f"got {shown(item.conditions)}")
    if not isinstance(item.wrappers, list):
        raise UsageError(f"{kind} {item.name!r}: wrappers must be a list of wrapper entries; "
                         f"got {shown(item.wrappers)}")
    for wrapper in item.wrappers:
        _check_component(wrapper, "wrapper")


def budget_of(tuning) -> int:
    """N of ``tuning = "budget:N"``; 0 for ``"grid"``; a one-line error otherwise."""
    if isinstance(tuning, str):
        if tuning == "grid":
            return 0
        head, sep, tail = tuning.partition(":")
        # ASCII digits only: "²" is a digit to str.isdigit, not to int().
        if (head == "budget" and sep and tail.isascii() and tail.isdigit() and len(tail) <= 18
                and 1 <= int(tail) <= MAX_SETTINGS):
            return int(tail)
    raise UsageError(f"tuning must be grid or budget:N with N from 1 to {MAX_SETTINGS} settings per optimizer; "
                     f"got {shown(tuning)}")


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
        if key in values:
            example = f"{key}=v1,v2"
            raise UsageError(f"{where} {text!r}: {key!r} is given twice; give it once, with a list "
                             f"of values to sweep ({example if example.isprintable() else repr(example)})")
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
    """Reads a TOML config file with one-line errors (naming the file and what is wrong)."""
    limit = 16 * 2**20  # a config is a small file; this also stops reading /dev/zero
    try:
        with Path(path).open("rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        what = {FileNotFoundError: "does not exist", IsADirectoryError: "is a folder, not a TOML file",
                PermissionError: "cannot be read: permission denied"}.get(type(exc), f"cannot be read: {exc.strerror}")
        raise UsageError(f"config file {str(path)!r} {what}") from None
    except (TypeError, ValueError) as exc:  # not a path at all, or one with a NUL byte
        raise UsageError(f"config file {path!r} is not a valid file path: {exc}") from None
    if len(data) > limit:
        raise UsageError(f"config file {str(path)!r} is larger than 16 MiB; a config is a small TOML file")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UsageError(f"config file {str(path)!r} is not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                         f"offset {exc.start}); is it a TOML file?") from None
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, an integer of 5000 digits, deep nesting
        raise UsageError(f"config file {str(path)!r} is not valid TOML: "
                         f"{' '.join(str(exc).split())[:200] or 'nested too deeply'}") from None


def from_toml(data: dict, source: str = "config") -> RunConfig:
    """Builds a :class:`RunConfig` from parsed TOML; a key of the wrong type names ``source``."""
    if not isinstance(data, dict):
        raise UsageError(f"{source} must be a table of keys (parsed TOML, a dict); got {type(data).__name__}")
    allowed = set(RUN_KEYS) | {"landscape", "optimizer", "wrap", "study"}
    for key in data:
        if key not in allowed:
            raise UsageError(f"unknown key {shown(key, 80)} in {source}; choose from: {', '.join(sorted(allowed))}")
    fields = {k: data[k] for k in RUN_KEYS if k in data}
    number = (lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool))
    text = (lambda v: isinstance(v, str))
    # What each run key must be (ranges and choices are checked by RunConfig.check).
    kinds = {name: (lambda v: number(v) and isinstance(v, numbers.Integral), "an integer")
             for name in INTEGER_RANGES} | {
        "targets": (lambda v: isinstance(v, (list, tuple)) and all(number(t) for t in v),
                    "a list of numbers (precision levels, descending), e.g. [1e-2, 1e-8]"),
        "precision": (text, f"one of {', '.join(PRECISIONS)}"), "tuning": (text, "grid or budget:N"),
        "matmul_precision": (text, f"one of {', '.join(MATMUL_PRECISIONS)}"),
        "stop_at_target": (lambda v: isinstance(v, bool), "true or false"),
        "diagnostics": (lambda v: text(v) or isinstance(v, list) and all(map(text, v)), "a list of names, or all"),
        "plugins": (lambda v: isinstance(v, list) and all(map(text, v)), "a list of file paths"),
    }
    for key, value in fields.items():
        if not kinds[key][0](value):
            raise UsageError(f"{key} in {source} must be {kinds[key][1]}; got {shown(value, 80)}")
    if isinstance(fields.get("diagnostics"), str):  # diagnostics = "all"
        fields["diagnostics"] = [fields["diagnostics"]]
    if "targets" in fields:
        fields["targets"] = tuple(fields["targets"])
    if not isinstance(data.get("study", {}), dict):
        raise UsageError(f"study in {source} must be a table ([study]); got {shown(data['study'], 80)}")
    components = {kind: _tables(data.get(kind, []), kind, source) for kind in ("landscape", "optimizer", "wrap")}
    return RunConfig(landscapes=components["landscape"], optimizers=components["optimizer"],
                     wrappers=components["wrap"], study=dict(data.get("study", {})), **fields)


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
    if config.study:
        data["study"] = config.study
    return tomli_w.dumps(data)
