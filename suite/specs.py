"""What a plugin contributes: landscape, optimizer and wrapper specs, and landscape instances.

A *spec* is the registered, named recipe (declared params, docs, a builder). A
:class:`Landscape` is one instance built from a spec, parameter values and a key:
data (arrays) plus pure functions of that data. Because the data are pytree
leaves and the functions are static, instances drawn from different seeds run
through one compiled program; nothing is a class with a jitted ``self``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from suite.params import DeclarationError, Param, declared, declared_values
from suite.types import Point, PRNGKey, PyTree, Scalar

KNOWN_TAGS = ("convex", "multimodal", "saddles", "plateaus", "vanishing-gradients", "stochastic")
# How f_opt is known: "exact" (a proven minimum of this instance) or
# "reference" (a published value, e.g. the N → ∞ ground state of p-spin, which
# a finite instance may beat; reports say so beside every figure that uses it).
F_OPT_KINDS = ("exact", "reference")


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["data", "f_opt", "x_opt"],
    meta_fields=["init_fn", "loss_fn", "project_fn", "tags", "stochastic", "f_opt_kind",
                 "levels", "layered", "symmetry_fn", "index_curve"],
)
@dataclasses.dataclass(frozen=True)
class Landscape:
    """One landscape instance: arrays plus pure functions of them.

    Attributes:
      data: pytree of arrays the functions read (rotation, teacher weights, ...).
      init_fn: ``init_fn(data, key) -> x``, the start of one restart (a point:
        an array or a pytree of arrays).
      loss_fn: ``loss_fn(data, x, key) -> scalar``; ``key`` is ``None``
        unless the landscape is stochastic.
      project_fn: ``project_fn(data, x) -> x`` back onto the constraint
        set after every step, or ``None`` when unconstrained.
      f_opt: the known optimal value, or ``None`` when unknown.
      x_opt: a known minimiser, or ``None``.
      tags: difficulties the landscape isolates (see ``KNOWN_TAGS``).
      stochastic: whether ``loss_fn`` draws from its key (mini-batches). With
        ``key=None`` a stochastic landscape returns its exact (full-batch) loss.
      f_opt_kind: ``"exact"`` or ``"reference"`` (see ``F_OPT_KINDS``).
      levels: named loss values reports draw as lines, e.g.
        ``(("threshold", -1.633),)`` for the p-spin threshold energy.
      layered: whether the point x is a sequence with one entry per layer, so
        that :meth:`layer_gradient_norms` is meaningful.
      symmetry_fn: ``symmetry_fn(data, x) -> x``, a canonical
        representative of the points the loss cannot tell apart (σ ↦ −σ for an
        even-p spin glass), so that clustering end points counts minima up to
        symmetry; ``None`` when there is none.
      index_curve: ``((loss, index), ...)``, the theoretical index of critical
        points against their loss, drawn on the diagnostics' index-vs-loss
        figure (the p-spin's α(u)).

    Write ``init_fn``/``loss_fn``/``project_fn`` as module-level functions, or
    as frozen dataclass instances when they carry a static setting (a
    mini-batch size): they are part of the compile key and compare by value,
    whereas a fresh closure per instance recompiles.
    """

    data: PyTree
    init_fn: Callable[[PyTree, PRNGKey], Point]
    loss_fn: Callable[[PyTree, Point, PRNGKey | None], Scalar]
    project_fn: Callable[[PyTree, Point], Point] | None = None
    f_opt: Any = None
    x_opt: Any = None
    tags: tuple[str, ...] = ()
    stochastic: bool = False
    f_opt_kind: str = "exact"
    levels: tuple[tuple[str, float], ...] = ()
    layered: bool = False
    symmetry_fn: Callable[[PyTree, Point], Point] | None = None
    index_curve: tuple[tuple[float, float], ...] = ()

    def init(self, key: PRNGKey) -> Point:
        """Initial point of one restart, projected onto the constraint set."""
        return self.project(self.init_fn(self.data, key))

    def loss(self, x: Point, key: PRNGKey | None = None) -> Scalar:
        """Scalar loss at the point ``x``."""
        return self.loss_fn(self.data, x, key if self.stochastic else None)

    def project(self, x: Point) -> Point:
        """Projection of ``x`` back onto the constraint set (identity when unconstrained)."""
        return x if self.project_fn is None else self.project_fn(self.data, x)

    def layer_gradient_norms(self, x: Point, key: PRNGKey | None = None) -> jax.Array:
        """‖∂f/∂θ_l‖ for every layer l, input layer first: the "speed of learning"
        of each layer (Nielsen, Neural Networks and Deep Learning, ch. 5).

        Only for ``layered`` landscapes, whose point x holds one entry per layer.
        """
        if not self.layered:
            raise ValueError("layer_gradient_norms needs a layered landscape (x one entry per layer)")
        return layer_norms(jax.grad(self.loss)(x, key))


def layer_norms(layers) -> jax.Array:
    """The 2-norm of each entry of a per-layer sequence (a layered point or gradient), input layer first."""
    return jnp.stack([jnp.sqrt(sum(jnp.sum(jnp.square(leaf)) for leaf in jax.tree.leaves(layer)))
                      for layer in layers])


def _first_paragraph(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.split("\n\n")[0].replace("\n", " ").strip()


class _Registered:
    """What every registered spec shares: its parameters' defaults and a doc line.

    A spec checks its own declaration when it is made (a plugin's ``register``
    call): parameters, sweep and test values that cannot work are refused with
    a :class:`suite.params.DeclarationError` naming the item.
    """

    name: str
    params: tuple[Param, ...]
    doc: str
    test_config: dict
    KIND = "component"

    def _finish(self, fn: Callable) -> None:
        owner = f"{self.KIND} {self.name!r}"
        if not callable(fn):
            raise DeclarationError(f"{owner}: its builder must be a function; got {fn!r}")
        object.__setattr__(self, "params", declared(self.params, owner))
        if not isinstance(self.doc, str):
            raise DeclarationError(f"{owner}: doc must be a string; got {self.doc!r}")
        if not self.doc:
            object.__setattr__(self, "doc", _first_paragraph(fn))
        object.__setattr__(self, "test_config",
                           declared_values(self.params, self.test_config, owner, "test_config", lists=False))
        if not isinstance(self.source, dict):
            object.__setattr__(self, "source", dict(self.source or {}))

    @property
    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}


@dataclasses.dataclass(frozen=True)
class LandscapeSpec(_Registered):
    """A registered landscape family.

    Attributes:
      name: the name users type (``bowl``).
      build: ``build(values: dict, *, key) -> Landscape``: the instance for
        parameter values ``values`` (one per declared param); runs on the host.
      params: the declared parameters (:class:`suite.Param`).
      doc: one paragraph; defaults to the first paragraph of ``build``'s docstring.
      test_config: small parameter values for tests and ``suite check``.
      plugin: the plugin that registered it (set by the registry).
      source: where the plugin came from (set by the registry): its
        distribution and version, or its file's path and sha256.
    """

    name: str
    build: Callable[..., Landscape]
    params: tuple[Param, ...]
    doc: str = ""
    test_config: dict = dataclasses.field(default_factory=dict)
    plugin: str = ""
    source: dict = dataclasses.field(default_factory=dict, compare=False)
    KIND = "landscape"

    def __post_init__(self):
        self._finish(self.build)


@dataclasses.dataclass(frozen=True)
class OptimizerSpec(_Registered):
    """A registered optimizer.

    Attributes:
      name: the name users type (``adam``).
      factory: ``factory(**hyperparameters) -> optax.GradientTransformation``.
        It is called inside the compiled program with float hyperparameters as
        traced arrays, so it must not branch on their values in Python.
      params: the declared hyperparameters (floats traced, others static).
      sweep: default sweep grid, ``{name: values}``, used for every
        hyperparameter the user leaves unset.
      doc: one paragraph; defaults to the first paragraph of ``factory``'s docstring.
      test_config: small hyperparameter values for tests and ``suite check``.
      plugin: the plugin that registered it (set by the registry).
      source: where the plugin came from (set by the registry).
    """

    name: str
    factory: Callable[..., optax.GradientTransformation]
    params: tuple[Param, ...]
    sweep: dict = dataclasses.field(default_factory=dict)
    doc: str = ""
    test_config: dict = dataclasses.field(default_factory=dict)
    plugin: str = ""
    source: dict = dataclasses.field(default_factory=dict, compare=False)
    KIND = "optimizer"

    def __post_init__(self):
        self._finish(self.factory)
        # A sweep names declared parameters only, each with a non-empty list of valid values.
        object.__setattr__(self, "sweep", declared_values(self.params, self.sweep, f"optimizer {self.name!r}",
                                                          "sweep", lists=True))

    def transformation(self, **hyperparameters) -> optax.GradientTransformationExtraArgs:
        """The transformation, accepting (and ignoring) extra update arguments."""
        return optax.with_extra_args_support(self.factory(**hyperparameters))


@dataclasses.dataclass(frozen=True)
class WrapperSpec(_Registered):
    """A registered optimizer wrapper: a training phenomenon that composes with any optimizer.

    Attributes:
      name: the name users type (``stale``).
      wrap: ``wrap(inner, **hyperparameters) -> optax.GradientTransformation``,
        where ``inner`` is the optimizer (possibly already wrapped). Like an
        optimizer factory it is called inside the compiled program with float
        hyperparameters as traced arrays. Per-step inputs arrive as keyword
        extra arguments of ``update``: ``key`` (this restart's random key for
        this step), ``value``, ``grad`` and ``value_fn``.
      params: the declared hyperparameters (floats traced, others static).
      doc: one paragraph; defaults to the first paragraph of ``wrap``'s docstring.
      test_config: small hyperparameter values for tests and ``suite check``.
      plugin: the plugin that registered it (set by the registry).
      source: where the plugin came from (set by the registry).

    Wrappers declare no default sweep: their parameters describe the condition
    studied (a delay, a noise level), not a knob the leaderboard may tune.
    """

    name: str
    wrap: Callable[..., optax.GradientTransformation]
    params: tuple[Param, ...]
    doc: str = ""
    test_config: dict = dataclasses.field(default_factory=dict)
    plugin: str = ""
    source: dict = dataclasses.field(default_factory=dict, compare=False)
    KIND = "wrapper"

    def __post_init__(self):
        self._finish(self.wrap)

    def transformation(self, inner: optax.GradientTransformation,
                       **hyperparameters) -> optax.GradientTransformationExtraArgs:
        """``inner`` wrapped, accepting (and passing on) extra update arguments."""
        inner = optax.with_extra_args_support(inner)
        return optax.with_extra_args_support(self.wrap(inner, **hyperparameters))


SECTION_SCOPES = ("run", "landscape")


@dataclasses.dataclass(frozen=True)
class SectionSpec:
    """A registered section of the HTML report.

    Attributes:
      name: a short identifier (``convergence``).
      render: ``render(report)`` for scope ``"run"``, ``render(report,
        landscape)`` for scope ``"landscape"`` (once per landscape label);
        returns an iterable of :mod:`suite.report` blocks (``Text``, ``Note``,
        ``Table``, ``Figure``), never raw HTML: the report escapes every string.
      title: the section's heading.
      scope: ``"run"`` (once) or ``"landscape"`` (once per landscape).
      order: sections are laid out by increasing order, then name; the
        built-in ones use 10–90 (run) and 100–190 (landscape).
      doc: one paragraph; defaults to the first paragraph of ``render``'s docstring.
      plugin: the plugin that registered it (set by the registry).
    """

    name: str
    render: Callable
    title: str = ""
    scope: str = "run"
    order: int = 500
    doc: str = ""
    plugin: str = ""
    source: dict = dataclasses.field(default_factory=dict, compare=False)

    def __post_init__(self):
        owner = f"report section {self.name!r}"
        if not callable(self.render):
            raise DeclarationError(f"{owner}: render must be a function; got {self.render!r}")
        if self.scope not in SECTION_SCOPES:
            raise DeclarationError(f"{owner}: scope {self.scope!r} is not one of {', '.join(SECTION_SCOPES)}")
        if isinstance(self.order, bool) or not isinstance(self.order, (int, float)):
            raise DeclarationError(f"{owner}: order must be a number; got {self.order!r}")
        for name in ("title", "doc"):
            if not isinstance(getattr(self, name), str):
                raise DeclarationError(f"{owner}: {name} must be a string; got {getattr(self, name)!r}")
        if not self.title:
            object.__setattr__(self, "title", self.name.replace("_", " ").capitalize())
        if not self.doc:
            object.__setattr__(self, "doc", _first_paragraph(self.render))


@dataclasses.dataclass(frozen=True)
class StudySpec:
    """A registered study: a run config with a published claim, and the check that gives its verdict.

    Attributes:
      name: a short identifier (``ill_conditioning``): ``suite study run NAME``.
      config: the study's TOML file: a run config plus a ``[study]`` table
        (``claim``, ``references``, ``tolerance``, and ``[study.size.NAME]``
        tables of run keys that replace the top level's at that size).
      check: ``check(data: suite.verdict.StudyData) -> suite.verdict.Verdict``,
        reading the run's tables only.
      doc: one line; defaults to the first paragraph of ``check``'s docstring.
      plugin: the plugin that registered it (set by the registry).
    """

    name: str
    config: Any
    check: Callable
    doc: str = ""
    plugin: str = ""
    source: dict = dataclasses.field(default_factory=dict, compare=False)

    def __post_init__(self):
        from pathlib import Path

        owner = f"study {self.name!r}"
        if self.name == "all":
            raise DeclarationError("a study may not be named 'all': suite study run all runs every study")
        if not callable(self.check):
            raise DeclarationError(f"{owner}: check must be a function; got {self.check!r}")
        if not isinstance(self.config, (str, Path)) or not Path(self.config).is_file():
            raise DeclarationError(f"{owner}: config must be the path of its TOML file; got {self.config!r}")
        object.__setattr__(self, "config", Path(self.config))
        if not isinstance(self.doc, str):
            raise DeclarationError(f"{owner}: doc must be a string; got {self.doc!r}")
        if not self.doc:
            object.__setattr__(self, "doc", _first_paragraph(self.check))
