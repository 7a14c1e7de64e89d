"""Property-based fuzzing of the component grammar and the config loader (issue 15).

Any text given as ``--landscape``, ``--optimizer`` or ``--wrap`` (the grammar
``NAME:k=v,v+WRAPPER:k=v``), any TOML document and any overrides given to
``suite.run`` yield either a config that :func:`suite.plan.resolve` accepts or a
one-line :class:`~suite.errors.UsageError`: never another exception, never a
message of several lines. A config that resolves is also recorded as
``config.toml`` and read back to the same settings (what ``--resume`` relies on).

CI runs a few hundred derandomized examples per property (under a minute on
two cores); ``SUITE_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py`` hunts for more.
"""

from __future__ import annotations

import atexit
import datetime
import math
import os
import shutil
import tempfile
import tomllib
from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from suite import api, plan
from suite import config as cfg
from suite.errors import UsageError
from suite.registry import load_registry, make_plugin_manager

REGISTRY = load_registry(make_plugin_manager())
_EXAMPLES = int(os.environ.get("SUITE_FUZZ_EXAMPLES", "0"))


def fuzz(examples: int):
    """CI: ``examples`` derandomized examples; ``SUITE_FUZZ_EXAMPLES=N``: N of them."""
    return settings(max_examples=_EXAMPLES or examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def one_line(exc: UsageError) -> None:
    message = str(exc)
    assert message and len(message.splitlines()) == 1 and "\n" not in message, repr(message)


# Settings a resolved config may hold and still be read back and compared quickly.
_ROUND_TRIP = 3000


def holds(make) -> None:
    """``make()`` gives a RunConfig or a one-line UsageError; the config resolves or says why in one line.

    A config that resolves is recorded (``resolved_config``, ``to_toml``) and read
    back to the same landscape settings, optimizer settings and entries.
    """
    try:
        config = make()
        landscapes, optimizers = plan.resolve(config, REGISTRY)
    except UsageError as exc:
        one_line(exc)
        return
    assert landscapes and optimizers
    if len(landscapes) * len(optimizers) > _ROUND_TRIP:
        return
    for landscape in landscapes[:3]:
        for optimizer in optimizers:
            assert len(plan.Cell(landscape, optimizer).id) == 12
    resolved = plan.resolved_config(config, landscapes, optimizers)
    again = cfg.from_toml(tomllib.loads(cfg.to_toml(resolved)), "config.toml")
    landscapes2, optimizers2 = plan.resolve(again, REGISTRY)
    assert [s.label for s in landscapes2] == [s.label for s in landscapes]
    assert [(s.label, s.entry) for s in optimizers2] == [(s.label, s.entry) for s in optimizers]


# ---------------------------------------------------------------- the component grammar

KINDS = {"landscape": REGISTRY.landscapes, "optimizer": REGISTRY.optimizers, "wrapper": REGISTRY.wrappers}
LANDSCAPES, OPTIMIZERS, WRAPPERS = (sorted(table) for table in KINDS.values())
PARAMS = sorted({p.name for table in KINDS.values() for spec in table.values() for p in spec.params})
CHOICES = sorted({c for table in KINDS.values() for spec in table.values() for p in spec.params for c in p.choices})

GRAMMAR = "+:=,._- \t\n\r\x00\"'[]{}#\\eE0123456789abcdilmnprstw\u00e9\u2028\u00b2"
identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
odd = st.text(alphabet=GRAMMAR, max_size=8)
unicode = st.text(max_size=8)
# Text a number may be typed as, and text that only looks like one.
number_texts = st.sampled_from([
    "1e+3", "1E+3", "1e-3", "+1", "-1", "0", "-0.0", "0.0", "1.", ".5", "3.0", "1_000", "0x10", "0o7", "0b1",
    "nan", "NaN", "-inf", "inf", "Infinity", "1e999", "-1e999", "1e-999", "true", "False", "yes", "off", "on",
    "", " ", " 3 ", "3 ", "\u00b2", "\u0663", "\uff11", "1" * 30, "9" * 5000, "1e+", "e3", "--1", "1,5",
    "9223372036854775808", "4294967296", "2147483648", "5e-324", "1.7976931348623157e308", *CHOICES])
atoms = st.one_of(number_texts, st.integers().map(str), st.floats().map(repr), st.floats(0, 2).map(str),
                  identifiers, odd, unicode)


def good_text(param):
    """Text ``param`` accepts (mostly): its choices, booleans, numbers in its bounds."""
    if param.choices:
        return st.sampled_from(param.choices)
    if param.type is bool:
        return st.sampled_from(["true", "false", "yes", "no", "on", "off", "1", "0", "True", " TRUE "])
    low = 0 if param.low is None else param.low
    high = 40 if param.high is None else min(param.high, 40)
    if param.type is int:
        return st.integers(int(low), int(high)).map(str)
    return st.one_of(st.floats(low, high).map(repr), st.floats(low, high).map(lambda x: f"{x:.2e}"),
                     st.sampled_from(["1e+0", "1e-3", "3E-1", "0.5", "1", " 0.25 "]))


def value_texts(param):
    """``v`` or ``v1,v2``: mostly values ``param`` accepts, sometimes anything."""
    good = good_text(param)
    return st.lists(st.one_of(good, good, good, atoms), min_size=1, max_size=3).map(",".join)


def spec_texts(spec, sweep: bool = False):
    """``NAME:k=v,v:k=v`` for one registered component, its own parameters (and ``sweep.`` grids)."""
    def pair(param):
        keys = [param.name, param.name, *(["sweep." + param.name] if sweep else [])]
        return st.tuples(st.sampled_from(keys), value_texts(param)).map("=".join)

    pairs = st.lists(st.sampled_from(spec.params).flatmap(pair), max_size=3, unique_by=lambda t: t.split("=")[0])
    return pairs.map(lambda ps: ":".join([spec.name, *ps]))


def mutated(texts):
    """The text with a few characters inserted or deleted (a ``:``, ``=``, ``+``, ``,`` out of place...)."""
    edits = st.lists(st.tuples(st.integers(0, 200), st.booleans(), st.sampled_from(
        [":", "=", "+", ",", ".", " ", "\n", "sweep.", "+stale", ":dim=", "\u2028", "\u00e9", "\x00", "="])),
        min_size=1, max_size=2)

    def apply(args):
        text, changes = args
        for at, delete, piece in changes:
            at %= len(text) + 1
            text = text[:at] + text[at + 1:] if delete else text[:at] + piece + text[at:]
        return text

    return st.tuples(texts, edits).map(apply)


def keys_of(names):
    return st.one_of(st.sampled_from(names), st.sampled_from(names).map(lambda k: "sweep." + k),
                     identifiers, odd, unicode, st.sampled_from(["", "sweep.", "sweep", "sweep.sweep.b1",
                                                                 "conditions", "name", "wrap", " dim", "dim "]))


def random_texts(names):
    """Registry names or not, with random keys and values, and malformed pieces."""
    pair = st.one_of(st.tuples(keys_of(PARAMS), st.lists(atoms, min_size=1, max_size=3).map(",".join)).map(
        "=".join), st.tuples(keys_of(PARAMS), st.sampled_from(["==", ""]), atoms).map("".join), odd, unicode)
    name = st.one_of(st.sampled_from(names), identifiers, odd, unicode, st.just(""))
    return st.tuples(name, st.lists(pair, max_size=4)).map(lambda t: ":".join([t[0], *t[1]]))


def component_texts(kind: str):
    """``--landscape`` or ``--wrap`` text: well-formed, slightly broken, or random."""
    table = KINDS[kind]
    good = st.sampled_from(sorted(table)).flatmap(lambda n: spec_texts(table[n]))
    return st.one_of(good, good, mutated(good), random_texts(sorted(table)))


def optimizer_texts():
    """``NAME:k=v,v:sweep.k=v+WRAPPER:k=v...``, slightly broken, ``+`` in odd places, or random."""
    wrappers = st.lists(st.sampled_from(WRAPPERS), max_size=3, unique=True).flatmap(
        lambda names: st.tuples(*(spec_texts(REGISTRY.wrappers[n]) for n in names)))
    good = st.tuples(st.sampled_from(OPTIMIZERS).flatmap(lambda n: spec_texts(REGISTRY.optimizers[n], True)),
                     wrappers).map(lambda t: "+".join([t[0], *t[1]]))
    random = st.tuples(random_texts(OPTIMIZERS), st.lists(st.one_of(random_texts(WRAPPERS), odd), max_size=3)).map(
        lambda t: "+".join([t[0], *t[1]]))
    return st.one_of(good, good, mutated(good), random, random.map(lambda t: t + "+"),
                     good.map(lambda t: "+" + t), good.map(lambda t: t.replace("+", "++")),
                     good.map(lambda t: t.replace(":", "+:")), good.map(lambda t: t.replace("=", "=+")))


any_text = st.one_of(st.text(max_size=40), st.text(alphabet=GRAMMAR, max_size=40))
landscape_texts = st.one_of(component_texts("landscape"), component_texts("landscape"), any_text)
wrap_texts = st.one_of(component_texts("wrapper"), component_texts("wrapper"), any_text)
optimizer_texts_ = st.one_of(optimizer_texts(), optimizer_texts(), any_text)


def small(**overrides) -> cfg.RunConfig:
    config = cfg.RunConfig(landscapes=[cfg.Component("rastrigin", {"dim": [2]})],
                           optimizers=[cfg.Component("sgd", {"learning_rate": [0.1]})], restarts=2, steps=3)
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


@fuzz(600)
@given(landscape_texts)
@example("bowl:\n=1:\n=2")  # a duplicate key printed raw: a two-line message
@example("deep_net:depth=" + ",".join(map(str, range(1, 101))) + ":width=" + ",".join(map(str, range(1, 101)))
         + ":samples=" + ",".join(map(str, range(1, 101))))  # 10**6 settings: refused, not built
def test_landscape_text(text):
    """``--landscape TEXT``, parsed as the command line parses it."""
    holds(lambda: small(landscapes=[cfg.Component(*cfg.parse_component(text, "--landscape"))]))


@fuzz(800)
@given(optimizer_texts_)
def test_optimizer_text(text):
    """``--optimizer TEXT``: hyperparameters, ``sweep.`` grids and ``+`` wrappers."""
    holds(lambda: small(optimizers=[cfg.parse_optimizer(text)]))


@fuzz(400)
@given(wrap_texts, st.sampled_from(["grid", "budget:3"]))
@example("clip:\r=0:\r=0", "grid")
def test_wrap_text(text, tuning):
    """``--wrap TEXT`` around every optimizer (under a grid and under a budget)."""
    holds(lambda: small(wrappers=[cfg.Component(*cfg.parse_component(text, "--wrap"))], tuning=tuning,
                        optimizers=[cfg.Component("sgd"), cfg.parse_optimizer("adam+stale:tau=1,2")]))


@fuzz(300)
@given(st.lists(st.one_of(landscape_texts, optimizer_texts_, wrap_texts), min_size=1, max_size=3),
       st.lists(optimizer_texts_, min_size=1, max_size=3), st.lists(wrap_texts, max_size=2))
def test_texts_through_the_api(landscapes, optimizers, wrap):
    """``suite.run(landscapes=[...], optimizers=[...], wrap=[...])``: many texts at once."""
    holds(lambda: api.make_config(small(), landscapes=landscapes, optimizers=optimizers, wrap=wrap))


def grids(name: str):
    """An optimizer's own tuning grid (``sweep.NAME = [...]``) over any numbers, huge and tiny included."""
    spec = REGISTRY.optimizers[name]
    numbers = st.one_of(st.floats(allow_nan=False), st.floats(0, 1), st.integers(), st.sampled_from(
        [0.0, 5e-324, 1.7976931348623157e308, 1.7e308, 0.12345, 0.12349, 0.9999, 1.0, 1e-300]))
    return st.dictionaries(st.sampled_from([p.name for p in spec.params]), st.lists(
        numbers, min_size=1, max_size=4), min_size=1, max_size=2).map(lambda g: cfg.Component(name, sweep=g))


@fuzz(300)
@given(st.sampled_from(OPTIMIZERS).flatmap(grids), st.integers(1, 40), st.sampled_from([[], ["b1"], ["eps"]]))
@example(cfg.Component("sgd", sweep={"learning_rate": [1.7e308, 1.7976931348623157e308]}), 64, [])
def test_tuning_budget(optimizer, budget, given_values):
    """``tuning = "budget:N"`` over a grid of the user's own: every setting sampled from its range is a
    valid value (finite, within the parameter's bounds), and a resumed run makes the same ones."""
    optimizer.values = {k: [0.5] for k in given_values if k not in optimizer.sweep}
    holds(lambda: small(optimizers=[optimizer], tuning=f"budget:{budget}"))


# ---------------------------------------------------------------- TOML documents

huge_ints = st.sampled_from([2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, -(2**63), 10**30])
scalars = st.one_of(
    st.integers(), huge_ints, st.integers(-3, 40), st.floats(), st.floats(0, 2), st.booleans(),
    st.text(max_size=10), st.sampled_from([*CHOICES, *LANDSCAPES, *OPTIMIZERS, *WRAPPERS, "grid", "budget:3",
                                           "budget:0", "budget:\u00b2", "all", "float64", "bfloat16", ""]),
    st.dates(), st.datetimes(), st.datetimes(timezones=st.just(datetime.timezone.utc)), st.times())
toml_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


def random_tables(names, extra=st.nothing()):
    """A ``[[landscape]]``-style table: a name (or not) and random values for real and random keys."""
    keys = st.one_of(st.sampled_from(PARAMS), identifiers, st.text(max_size=6))
    value = st.one_of(toml_values, st.lists(scalars, max_size=4), st.floats(0, 2), st.integers(0, 20))
    body = st.dictionaries(keys, value, max_size=4)
    name = st.one_of(st.sampled_from(names), st.text(max_size=6), toml_values)
    return st.tuples(st.one_of(name.map(lambda n: {"name": n}), st.just({})), body,
                     st.dictionaries(st.sampled_from(["sweep", "conditions", "wrap"]), extra, max_size=3)).map(
        lambda t: t[1] | t[2] | t[0])


def good_value(param):
    """A TOML value ``param`` accepts (mostly)."""
    if param.choices:
        return st.sampled_from(param.choices)
    if param.type is bool:
        return st.booleans()
    low = 0 if param.low is None else param.low
    high = 40 if param.high is None else min(param.high, 40)
    ints = st.integers(int(low), int(high))
    return ints if param.type is int else st.one_of(st.floats(low, high), ints)


def some_values(param):
    """A value, a list of values (a sweep), or anything at all."""
    good = good_value(param)
    return st.one_of(good, good, st.lists(good, min_size=1, max_size=3), st.lists(good, max_size=1),
                     good_text(param), toml_values)


def spec_tables(spec, optimizer: bool = False):
    """A table for one registered component: its parameters with values (a sweep, a wrong type...);
    an optimizer's also with a ``sweep`` grid, ``conditions`` and ``wrap`` tables."""
    def body(params):
        return st.fixed_dictionaries({p.name: some_values(p) for p in params})

    values = st.lists(st.sampled_from(spec.params), max_size=3, unique_by=lambda p: p.name).flatmap(body)
    table = values.map(lambda v: {"name": spec.name, **v})
    if not optimizer:
        return table
    sweep = st.lists(st.sampled_from(spec.params), max_size=2, unique_by=lambda p: p.name).flatmap(
        lambda ps: st.fixed_dictionaries({p.name: st.one_of(st.lists(good_value(p), max_size=3), good_value(p),
                                                             toml_values) for p in ps}))
    names = [p.name for p in spec.params]
    conditions = st.one_of(st.lists(st.sampled_from(names), max_size=2), toml_values)
    wraps = st.one_of(st.lists(st.sampled_from(WRAPPERS).flatmap(lambda n: spec_tables(REGISTRY.wrappers[n])),
                               max_size=2), st.lists(random_tables(WRAPPERS), max_size=1), toml_values)
    extras = st.fixed_dictionaries({}, optional={"sweep": sweep, "conditions": conditions, "wrap": wraps})
    return st.tuples(table, extras).map(lambda t: t[0] | t[1])


def tables(kind: str):
    table = KINDS[kind]
    good = st.sampled_from(sorted(table)).flatmap(lambda n: spec_tables(table[n], kind == "optimizer"))
    extra = st.one_of(toml_values, st.lists(random_tables(WRAPPERS), max_size=2)) if kind == "optimizer" \
        else toml_values
    return st.one_of(good, good, good, random_tables(sorted(table), extra))


landscape_tables, optimizer_tables, wrap_tables = tables("landscape"), tables("optimizer"), tables("wrapper")


def run_key_values(key: str):
    """A value for a run key: mostly of the right type (in range or just outside), sometimes anything."""
    right = {"targets": st.one_of(st.lists(st.floats(1e-9, 1e3), min_size=1, max_size=4).map(
                 lambda t: sorted(t, reverse=True)), st.lists(st.one_of(st.floats(), st.integers()), max_size=4)),
             "tuning": st.one_of(st.sampled_from(["grid", "budget:1", "budget:7", "budget:0", "budget:",
                                                  "budget:\u00b2", "budget:\u0663", "budget: 3", "Grid"]),
                                 st.integers(-5, 10**15).map(lambda n: f"budget:{n}")),
             "plugins": st.just([]),
             "diagnostics": st.one_of(st.lists(st.sampled_from([*cfg.DIAGNOSTICS, "all", "x"]), max_size=3),
                                      st.sampled_from(["all", "hessian", ""])),
             "precision": st.sampled_from([*cfg.PRECISIONS, "float16"]), "stop_at_target": st.booleans(),
             "matmul_precision": st.sampled_from([*cfg.MATMUL_PRECISIONS, "highest"])}.get(key)
    if right is None:
        low, high = cfg.INTEGER_RANGES[key]
        right = st.one_of(st.integers(low, min(high, 4)), st.integers(low, min(high, 4)),
                          st.sampled_from([low - 1, high, high + 1, 2**64, 10**30]),
                          st.integers(low - 2, high + 2))
    return st.one_of(right, right, right, toml_values)


def run_keys():
    return st.lists(st.sampled_from(sorted(cfg.RUN_KEYS)), unique=True, max_size=4).flatmap(
        lambda keys: st.fixed_dictionaries({k: run_key_values(k) for k in keys}))


def documents():
    """Whole documents: run keys with right and wrong values, component tables, unknown keys."""
    parts = st.fixed_dictionaries({}, optional={
        "landscape": st.one_of(st.lists(landscape_tables, max_size=3), toml_values),
        "optimizer": st.one_of(st.lists(optimizer_tables, max_size=3), toml_values),
        "wrap": st.one_of(st.lists(wrap_tables, max_size=2), toml_values)})
    valid = st.fixed_dictionaries({"landscape": st.lists(landscape_tables, min_size=1, max_size=2),
                                   "optimizer": st.lists(optimizer_tables, min_size=1, max_size=2)},
                                  optional={"wrap": st.lists(wrap_tables, max_size=2)})
    unknown = st.dictionaries(st.text(max_size=8), toml_values, min_size=1, max_size=2)
    return st.one_of(st.tuples(run_keys(), valid).map(lambda t: t[0] | t[1]),
                     st.tuples(run_keys(), valid).map(lambda t: t[0] | t[1]),
                     st.tuples(run_keys(), parts).map(lambda t: t[0] | t[1]),
                     st.tuples(run_keys(), valid, unknown).map(lambda t: t[0] | t[1] | t[2]),
                     st.dictionaries(st.text(max_size=8), toml_values, max_size=5))


_FOLDER = Path(tempfile.mkdtemp(prefix="suite-fuzz-"))
atexit.register(shutil.rmtree, _FOLDER, True)


def from_file(text: str | bytes) -> cfg.RunConfig:
    """``suite run FILE``: the config read as a file is."""
    path = _FOLDER / "config.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    return api.make_config(str(path))


@fuzz(300)
@given(documents())
def test_toml_document(doc):
    """Parsed TOML as a dict (``suite.run(config={...})``), and the same written as a file."""
    holds(lambda: api.make_config(doc))
    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):  # what TOML cannot hold (a time zone it cannot write, ...)
        return
    holds(lambda: from_file(text))


# Raw TOML text: lines of `key = literal` under the tables a config has, with
# literals a TOML parser may accept or reject.
literals = st.one_of(st.sampled_from([
    "1e+3", "-1e-3", "nan", "+nan", "-inf", "inf", "0x10", "0o7", "0b11", "1_000", "9" * 30, "9" * 5000,
    "-" + "9" * 20, "1979-05-27", "1979-05-27T07:32:00Z", "07:32:00", "true", "false", "[]", "[[]]", "[{}]",
    "{}", "{name = \"stale\"}", "[1, \"a\"]", "[0.1, 0.01]", "[1e400]", "\"\"", "''", "\"\\u2028\"",
    "\"\\n\"", "'''x\ny'''", "\"budget:8\"", "\"grid\"", "\"all\"", "[\"all\"]", "\"float64\"", "1.5e308",
    "1" + "0" * 400, "\"\\u0000\"", "\"\u00e9\"", "[true]", "3", "0", "-1", "2"]),
    st.sampled_from([*CHOICES, *LANDSCAPES, *OPTIMIZERS, *WRAPPERS]).map(lambda n: f'"{n}"'),
    st.integers().map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr))
toml_keys = st.one_of(st.sampled_from([*cfg.RUN_KEYS, *PARAMS, "name", "sweep.learning_rate", "sweep.tau",
                                       "sweep", "conditions", "wrap", "landscape", "optimizer", "\"a b\"",
                                       "dim.x", "name.x"]), identifiers)
headers = st.sampled_from(["", "[[landscape]]", "[[optimizer]]", "[[optimizer.wrap]]", "[optimizer.sweep]",
                           "[[wrap]]", "[landscape]", "[optimizer]", "[wrap]", "[[landscape.wrap]]",
                           "[[optimizer.sweep]]", "[[optimizer.wrap.wrap]]", "[optimizer.wrap.sweep]",
                           "[sweep]", "[[seed]]"])
sections = st.tuples(headers, st.lists(st.tuples(toml_keys, literals).map(" = ".join), max_size=4)).map(
    lambda t: "\n".join([t[0], *t[1]]))


def literal(value) -> str:
    """``value`` as a TOML literal, on one line (inline arrays and tables)."""
    if isinstance(value, list):
        return "[" + ", ".join(map(literal, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(str(k))} = {literal(v)}" for k, v in value.items()) + "}"
    try:
        text = tomli_w.dumps({"v": value})
    except (TypeError, ValueError):  # what TOML cannot write (a time with a time zone, ...)
        return '""'
    return text[4:].strip() if text.startswith("v = ") and text.count("\n") == 1 else '""'


def number_forms(value):
    """Other ways TOML writes a number: ``0x10``, ``1_000``, ``+3``, ``1e+3``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return st.just(literal(value))
    if isinstance(value, int):
        return st.sampled_from([str(value), hex(value), f"{value:_}", f"+{value}", f"{value}.0", oct(value)])
    return st.sampled_from([literal(value), f"{value:e}", f"{value:+.3e}", f"{value:.17g}"])


def param_lines(spec):
    """``name = literal`` lines for some of a component's parameters: values it takes, written in any
    TOML form, lists of them, and literals it does not take."""
    def line(param):
        good = good_value(param).flatmap(number_forms)
        value = st.one_of(good, good, good, literals, st.lists(good, max_size=3).map(
            lambda vs: "[" + ", ".join(vs) + "]"))
        return value.map(lambda v: f"{param.name} = {v}")

    return st.lists(st.sampled_from(spec.params), max_size=3, unique_by=lambda p: p.name).flatmap(
        lambda ps: st.tuples(*(line(p) for p in ps)))


def headed(kind: str, header: str, names: list[str]):
    table = KINDS[kind]
    return st.sampled_from(names).flatmap(lambda n: param_lines(table[n]).map(
        lambda lines: "\n".join([header, f'name = "{n}"', *lines])))


def optimizer_sections(name: str):
    spec = REGISTRY.optimizers[name]
    sweep = param_lines(spec).map(lambda lines: "\n".join(["[optimizer.sweep]", *lines]) if lines else "")
    conditions = st.lists(st.sampled_from([p.name for p in spec.params]), max_size=2).map(
        lambda c: f"conditions = {literal(c)}")
    return st.tuples(param_lines(spec), st.lists(conditions, max_size=1), st.one_of(st.just(""), sweep),
                     st.lists(headed("wrapper", "[[optimizer.wrap]]", WRAPPERS), max_size=2)).map(
        lambda t: "\n".join([f'[[optimizer]]\nname = "{name}"', *t[0], *t[1], t[2], *t[3]]))


def skeletons():
    """Config files shaped as configs are: run keys, [[landscape]], [[optimizer]] with their sweep and
    wrap tables, [[wrap]]; values in any TOML form, right or wrong."""
    top = st.lists(st.sampled_from(sorted(cfg.RUN_KEYS)), unique=True, max_size=2).flatmap(
        lambda keys: st.tuples(*(run_key_values(k).map(lambda v, k=k: f"{k} = {literal(v)}") for k in keys)))
    return st.tuples(top, st.lists(headed("landscape", "[[landscape]]", LANDSCAPES), min_size=1, max_size=2),
                     st.lists(st.sampled_from(OPTIMIZERS).flatmap(optimizer_sections), min_size=1, max_size=2),
                     st.lists(headed("wrapper", "[[wrap]]", WRAPPERS), max_size=1)).map(
        lambda t: "\n".join([*t[0], *t[1], *t[2], *t[3]]) + "\n")


@fuzz(400)
@example("tuning = 'budget:\u00b2'\n[[landscape]]\nname = 'bowl'\n[[optimizer]]\nname = 'adam'\n")
@example("seed = " + "9" * 5000 + "\n")
@example("targets = [1" + "0" * 400 + "]\n[[landscape]]\nname = 'bowl'\n[[optimizer]]\nname = 'adam'\n")
@example("[[landscape]]\nname = 'bowl'\n[[optimizer]]\nname = 'adam'\nlearning_rate = 1" + "0" * 400 + "\n")
@example("instances = 2147483647\n[[landscape]]\nname = 'bowl'\n[[optimizer]]\nname = 'adam'\n")
@given(st.one_of(
    skeletons(), skeletons(), mutated(skeletons()),
    st.lists(sections, max_size=6).map(lambda s: "\n".join(s) + "\n"),
    st.tuples(st.lists(sections, max_size=3), st.sampled_from(["[[landscape]]\nname = \"bowl\"\n",
                                                               "[[optimizer]]\nname = \"adam\"\n"])).map(
        lambda t: "\n".join(["[[landscape]]\nname = \"rastrigin\"\n[[optimizer]]\nname = \"sgd\"", *t[0]])
        + "\n" + t[1])))
def test_toml_text(text):
    """A config file of TOML lines, valid TOML or not."""
    holds(lambda: from_file(text))


@fuzz(200)
@example(b"\x93\x01Q5\x14\x81")
@given(st.one_of(st.text(max_size=60), st.binary(max_size=60),
                 st.text(alphabet="[]{}=\"'.,#\n \tabdeimnostw0123456789+-:", max_size=60)))
def test_arbitrary_file(text):
    """A config file of any text or bytes."""
    holds(lambda: from_file(text))


# ---------------------------------------------------------------- overrides through suite.run

api_values = st.one_of(toml_values, st.none(), st.tuples(st.floats(), st.floats()), st.sets(st.integers(0, 3)),
                       st.sampled_from([10**5000, -(10**5000), 2**64, math.nan, math.inf, object(), b"bytes",
                                        Path("x.py"), ["a.py", Path("b.py")], {"name": "bowl"}, (1.0, 0.1),
                                        [1.0, 10**400], "budget:" + "9" * 5000, "budget:99999999999"]))


@fuzz(300)
@given(st.one_of(run_keys(), run_keys(), st.dictionaries(st.sampled_from(sorted(cfg.RUN_KEYS)), api_values,
                                                         max_size=3)),
       st.one_of(st.none(), st.lists(st.one_of(landscape_tables, landscape_texts), min_size=1, max_size=2),
                 landscape_tables, landscape_texts, api_values),
       st.one_of(st.none(), st.lists(st.one_of(optimizer_tables, optimizer_texts_), min_size=1, max_size=2),
                 optimizer_tables, api_values),
       st.one_of(st.none(), st.lists(st.one_of(wrap_tables, wrap_texts), max_size=2), api_values))
@example({"seed": 10**5000}, None, None, None)
@example({"tuning": "budget:" + "9" * 5000}, None, None, None)
@example({"tuning": "budget:99999999999"}, None, None, None)
@example({}, [10**5000], None, None)
@example({}, None, [{"name": "adam", 1: 0.1, "b1": 0.9}], None)
def test_api_overrides(overrides, landscapes, optimizers, wrap):
    """``suite.run(config, landscapes=..., optimizers=..., wrap=..., restarts=..., ...)`` with any values."""
    holds(lambda: api.make_config(small(), landscapes=landscapes, optimizers=optimizers, wrap=wrap,
                                  **overrides))


hand_names = st.one_of(st.sampled_from([*LANDSCAPES, *OPTIMIZERS, *WRAPPERS]), toml_values)
hand_values = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(PARAMS), st.integers(), st.none(), st.tuples(st.integers())),
                    st.one_of(st.lists(st.floats(0, 1), min_size=1, max_size=2), st.lists(st.integers(1, 3)),
                              toml_values), max_size=3), toml_values)
hand_components = st.builds(
    cfg.Component, hand_names, hand_values,
    st.one_of(st.just([]), st.lists(st.builds(cfg.Component, hand_names, hand_values), max_size=2), toml_values),
    st.one_of(st.just({}), hand_values), st.one_of(st.none(), st.lists(st.sampled_from(PARAMS)), toml_values))


@fuzz(300)
@given(st.sampled_from(["landscapes", "optimizers", "wrappers"]), hand_components)
@example("landscapes", cfg.Component(["bowl"]))
@example("optimizers", cfg.Component("adam", {"b1": [0.5]}, wrappers=[cfg.Component({"name": "stale"})]))
@example("landscapes", cfg.Component("bowl", sweep={"dim": [2]}))
def test_hand_made_components(field, component):
    """A RunConfig built by hand in Python, with Components of any shape."""
    holds(lambda: small(**{field: [component]}))
    holds(lambda: api.make_config(small(**{field: [component]})))
