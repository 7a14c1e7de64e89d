"""The hook specifications of ``suite``: the whole plugin interface.

A plugin is a module (or any object) with functions marked ``@suite.hookimpl``
whose names are hook names below. Register it through the entry-point group
``suite`` in a package's ``pyproject.toml``::

    [project.entry-points.suite]
    my_plugin = "my_package.my_module"

or load a single file with ``suite run --plugin my_plugin.py``. Built-in
landscapes and optimizers register through the same entry-point group.

Hooks are called with keyword arguments; an implementation may accept a subset
of a spec's arguments, so arguments added to a spec later do not break it.

Three words are kept apart. *params* are a spec's declared parameters, the
list of :class:`suite.Param` given as ``register(..., params=[...])``.
*values* are the numbers one instance is built with, one per declared param:
a dict for ``build(values, *, key)``, keyword arguments (``**hparams``) for an
optimizer's factory or a wrapper. *x* is the point an optimizer moves, an
array or a pytree of arrays (``init_fn(data, key) -> x``, ``loss_fn(data, x,
key)``; the alias :data:`suite.types.Point`).
"""

import pluggy

hookspec = pluggy.HookspecMarker("suite")


@hookspec
def register_landscapes(register):
    """Register landscape families.

    :param register: call ``register(name, build, *, params, doc="",
        test_config=None)`` once per family. ``build(values, *, key)`` takes
        ``values``, the dict of parameter values (one per declared param), and
        a PRNG key, and returns a :class:`suite.Landscape`, whose functions
        take the point x (``loss_fn(data, x, key)``). ``params`` is the
        sequence of declared :class:`suite.Param`. Registering a name another
        plugin already registered is an error naming both plugins.

    Example::

        @suite.hookimpl
        def register_landscapes(register):
            register("sphere", build_sphere, params=[
                suite.Param("dim", int, 10, "number of coordinates", low=1)])
    """


@hookspec
def register_optimizers(register):
    """Register optimizers.

    :param register: call ``register(name, factory, *, params, sweep=None,
        doc="", test_config=None)`` once per optimizer. ``factory(**hparams)``
        returns an ``optax.GradientTransformation``; float hyperparameters reach
        it as traced arrays, so a sweep over them compiles once. ``sweep`` maps
        hyperparameter names to the default values to sweep.

    Example::

        @suite.hookimpl
        def register_optimizers(register):
            register("sgd", optax.sgd, params=[
                suite.Param("learning_rate", float, 0.01, "step size", low=0)],
                sweep={"learning_rate": [1e-3, 1e-2, 1e-1]})
    """


@hookspec
def register_wrappers(register):
    """Register optimizer wrappers: training phenomena that compose with any optimizer.

    :param register: call ``register(name, wrap, *, params, doc="",
        test_config=None)`` once per wrapper. ``wrap(inner, **hparams)`` takes
        the optimizer being wrapped (an ``optax.GradientTransformationExtraArgs``)
        and returns a transformation; float hyperparameters reach it as traced
        arrays. Its ``update`` receives the keyword extra arguments ``key``
        (this restart's random key for this step: never capture a key when
        building), ``value``, ``grad`` and ``value_fn``, and must pass them on
        to ``inner`` (``optax.chain`` does). Users chain wrappers onto any
        optimizer: ``--optimizer adam+stale:tau=8``.

    Example::

        @suite.hookimpl
        def register_wrappers(register):
            register("clip", lambda inner, threshold: optax.chain(
                optax.clip_by_global_norm(threshold), inner), params=[
                suite.Param("threshold", float, 1.0, "largest gradient norm", low=0)])
    """


@hookspec
def register_report_sections(register):
    """Register sections of the HTML report (``suite report``).

    :param register: call ``register(name, render, *, title="", scope="run",
        order=500, doc="")`` once per section. ``render(report)`` (scope
        ``"run"``) or ``render(report, landscape)`` (scope ``"landscape"``,
        called once per landscape label) receives a
        :class:`suite.report.Report`, whose ``cells``, ``restarts`` and
        ``curves`` are the run's tables, and returns an iterable of blocks:
        ``suite.report.Text``, ``Note``, ``Table`` (a DataFrame) and
        ``Figure`` (a matplotlib figure with a caption saying how to read it).
        The report escapes every string, so blocks carry text, never HTML. A
        section that raises is replaced by a note naming the error; the rest
        of the report is kept. The built-in sections register through this
        hook too (``suite.report.sections``).

    Example::

        @suite.hookimpl
        def register_report_sections(register):
            def steps_table(report):
                yield suite.report.Table(report.cells[["entry", "steps_run"]])
            register("steps", steps_table, title="Steps run")
    """


@hookspec
def register_studies(register):
    """Register studies: a difficulty of training reproduced as a published claim with a verdict.

    :param register: call ``register(name, config, check, *, doc="")`` once
        per study. ``config`` is the path of a TOML file: a run config plus a
        ``[study]`` table with the ``claim`` (one or two sentences), the
        ``references``, the ``tolerance`` table the check compares at (stated
        up front, never tuned to pass) and ``[study.size.tiny|small|full]``
        tables of run keys (``restarts``, ``steps``, ``landscape``, ...) that
        replace the top level's at that size. ``check(data)`` receives a
        :class:`suite.verdict.StudyData` (the run's tables, the ``[study]``
        table) and returns a :class:`suite.verdict.Verdict`; it reads the
        tables only, so a resumed or re-reported run gets the same verdict.
        A check that raises gives the verdict "error" with the message; the
        run and its report are kept.

    Example::

        @suite.hookimpl
        def register_studies(register):
            register("my_claim", Path(__file__).with_name("my_claim.toml"), check_my_claim)
    """
