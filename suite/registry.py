"""Plugin discovery: one path for built-in, installed and single-file plugins.

:func:`make_plugin_manager` builds a fresh pluggy manager (none exists at import
time); :func:`load_registry` asks every plugin to register its landscapes,
optimizers and wrappers and returns the resulting :class:`Registry`.

A plugin is refused, with one line naming it, when it fails to import, calls
``sys.exit`` or raises ``KeyboardInterrupt`` itself, or declares parameters,
sweeps or names that cannot work: an installed plugin is skipped with a
warning, a file the user named (``--plugin``) is an error (exit 2). A real
Ctrl-C inside a plugin is never taken for the plugin's own doing: it
interrupts the command. The same file named twice (or again on ``--resume``)
loads once. Every plugin's source is recorded: its distribution and version,
or its file's path and sha256.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import re
import sys
from pathlib import Path

import pluggy

from suite import hookspecs
from suite.errors import UsageError, choices, interrupts_received, one_line
from suite.params import DeclarationError
from suite.specs import LandscapeSpec, OptimizerSpec, SectionSpec, StudySpec, WrapperSpec

GROUP = "suite"


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus the plugins that failed to load (kept, not raised) and where each came from."""

    def __init__(self):
        super().__init__(GROUP)
        self.load_errors: list[str] = []
        self.sources: dict[str, dict] = {}  # plugin name -> its distribution, or its file and sha256
        self.local: set[str] = set()  # plugins from files the user named: their errors are exit 2


class PluginError(Exception):
    """What a plugin's own code did wrong (raised, exited), as one line."""


def _guarded(fn):
    """``fn()`` run as a plugin's code: a real Ctrl-C goes through, whatever the plugin made of it.

    Raises:
      KeyboardInterrupt: the user pressed Ctrl-C meanwhile (even where the plugin swallowed it).
      UsageError: as raised (the registry's own refusals inside a hook).
      PluginError: anything else the plugin raised, ``sys.exit`` and its own
        ``KeyboardInterrupt`` included.
    """
    before = interrupts_received()
    try:
        result = fn()
    except BaseException as exc:  # noqa: BLE001 - sorted below; a real Ctrl-C always goes through
        if before is None and isinstance(exc, KeyboardInterrupt):
            raise  # not watching: it cannot be told from the user's Ctrl-C
        if before is not None and interrupts_received() != before:
            raise KeyboardInterrupt from None
        if isinstance(exc, UsageError):
            raise
        if isinstance(exc, KeyboardInterrupt):
            raise PluginError("it raised KeyboardInterrupt itself (no Ctrl-C was pressed)") from None
        if isinstance(exc, SystemExit):
            raise PluginError(f"it called sys.exit({'' if exc.code is None else repr(exc.code)})") from None
        raise PluginError(_one_line(exc)) from None
    if before is not None and interrupts_received() != before:
        raise KeyboardInterrupt  # a Ctrl-C the plugin swallowed
    return result


def _load_entry_points(pm: PluginManager, entry_points) -> None:
    # pluggy's load_setuptools_entrypoints stops at the first plugin that fails
    # to import; one broken third-party package must not hide every other one.
    for ep in entry_points:
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = _guarded(ep.load)
        except (PluginError, UsageError) as exc:
            pm.load_errors.append(f"plugin {ep.name!r} failed to load: {exc}")
            continue
        pm.sources[ep.name] = _distribution(ep)
        _register(pm, plugin, ep.name)


def _distribution(ep) -> dict:
    """The distribution (name, version) an entry point comes from, and its module."""
    dist = getattr(ep, "dist", None)
    if dist is None:  # an entry point made by hand (tests): find the module's distribution
        top = ep.value.split(":")[0].split(".")[0]
        try:
            names = importlib.metadata.packages_distributions().get(top, [])
            dist = importlib.metadata.distribution(names[0]) if names else None
        except Exception:  # noqa: BLE001 - provenance is best effort, never fatal
            dist = None
    return {"distribution": dist.name if dist else None, "version": dist.version if dist else None,
            "module": ep.value}


def load_file(path: str | Path):
    """Imports one local plugin file as a module; its ``__suite_source__`` is its path and sha256.

    The bytes hashed are the bytes run. Raises UsageError (one line naming
    the file) when it is missing, unreadable or fails to import, ``sys.exit``
    and a ``KeyboardInterrupt`` of its own included; a real Ctrl-C goes through.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"plugin file {str(path)!r} does not exist")
    if path.suffix != ".py":
        raise UsageError(f"plugin file {str(path)!r} must be a .py file")
    resolved = path.resolve()
    try:
        source = resolved.read_bytes()
    except OSError as exc:
        raise UsageError(f"plugin file {str(path)!r} cannot be read: {exc.strerror or exc}") from None
    stem = re.sub(r"\W", "_", path.stem)
    module_name = f"suite_local_plugin_{stem}_{hashlib.sha1(str(resolved).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    try:
        _guarded(lambda: exec(compile(source, str(resolved), "exec"), module.__dict__))
    except BaseException as exc:
        sys.modules.pop(module_name, None)
        if isinstance(exc, (PluginError, UsageError)):
            raise UsageError(f"plugin file {str(path)!r} failed to import: {exc}") from None
        raise
    module.__suite_source__ = {"path": str(resolved), "sha256": hashlib.sha256(source).hexdigest()}
    return module


def _register(pm: PluginManager, plugin, name: str) -> None:
    try:
        pm.register(plugin, name=name)
    except (pluggy.PluginValidationError, ValueError) as exc:
        if name in pm.local:
            raise UsageError(f"plugin {name!r}: {_one_line(exc)}") from None
        pm.load_errors.append(f"plugin {name!r} skipped: {_one_line(exc)}")


def make_plugin_manager(*, local_files=(), entry_points=None) -> PluginManager:
    """A fresh manager with every installed plugin and the given local files.

    Args:
      local_files: paths of single-file plugins (``suite run --plugin FILE``);
        a file given twice (by any path to it), or one an installed plugin
        already is, loads once.
      entry_points: the entry points to load; by default those of the group
        ``suite`` in the installed distributions (tests pass their own).

    Raises:
      UsageError: a local file is missing or fails to import, or a hook
        implementation of a local file matches no hook specification (an
        installed plugin with such a hook is skipped with a warning).
    """
    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=GROUP)
    _load_entry_points(pm, entry_points)
    loaded = {str(Path(f).resolve()) for f in (getattr(p, "__file__", None) for p in pm.get_plugins()) if f}
    for path in local_files:
        resolved = str(Path(path).resolve())
        if resolved in loaded:
            continue
        module = load_file(path)
        loaded.add(resolved)
        pm.local.add(str(path))
        pm.sources[str(path)] = module.__suite_source__
        _register(pm, module, str(path))
    # pluggy's check_pending(), with the valid hook names in the message: an
    # implementation whose name matches no spec (a typo) is refused.
    specs = sorted(n for n, c in vars(pm.hook).items()
                   if isinstance(c, pluggy.HookCaller) and c.has_spec())
    for name, caller in list(vars(pm.hook).items()):
        if isinstance(caller, pluggy.HookCaller) and not caller.has_spec():
            for impl in caller.get_hookimpls():
                if impl.optionalhook:
                    continue
                message = (f"plugin {impl.plugin_name!r} implements unknown hook {name!r}; "
                           f"choose from: {choices(specs)}")
                if impl.plugin_name in pm.local:
                    raise UsageError(message)
                pm.load_errors.append(f"{message} (skipped)")
                pm.unregister(name=impl.plugin_name)
    return pm


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, pluggy.PluginValidationError):
        return " ".join(str(exc).split())
    return one_line(exc)


@dataclasses.dataclass
class Registry:
    """Every registered landscape, optimizer, wrapper, report section and study, by name."""

    landscapes: dict[str, LandscapeSpec] = dataclasses.field(default_factory=dict)
    optimizers: dict[str, OptimizerSpec] = dataclasses.field(default_factory=dict)
    wrappers: dict[str, WrapperSpec] = dataclasses.field(default_factory=dict)
    sections: dict[str, SectionSpec] = dataclasses.field(default_factory=dict)
    studies: dict[str, StudySpec] = dataclasses.field(default_factory=dict)
    # Plugins that failed to load or to register, one line each: the run goes on without them.
    warnings: list[str] = dataclasses.field(default_factory=list)
    # Where each plugin came from: {"distribution", "version", "module"} or {"path", "sha256"}.
    sources: dict[str, dict] = dataclasses.field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        """Deprecated name of :attr:`warnings` (a "problem" is a landscape in this field)."""
        import warnings

        warnings.warn("Registry.problems is renamed Registry.warnings; the old name goes in the next release",
                      DeprecationWarning, stacklevel=2)
        return self.warnings

    def landscape(self, name: str) -> LandscapeSpec:
        """The landscape called ``name``, or a one-line error listing the choices."""
        return self._get(self.landscapes, name, "landscape")

    def optimizer(self, name: str) -> OptimizerSpec:
        """The optimizer called ``name``, or a one-line error listing the choices."""
        return self._get(self.optimizers, name, "optimizer")

    def wrapper(self, name: str) -> WrapperSpec:
        """The wrapper called ``name``, or a one-line error listing the choices."""
        return self._get(self.wrappers, name, "wrapper")

    def study(self, name: str) -> StudySpec:
        """The study called ``name``, or a one-line error listing the choices."""
        return self._get(self.studies, name, "study")

    def _get(self, table, name, kind):
        try:
            return table[name]
        except KeyError:
            hint = f" ({'; '.join(self.warnings)})" if self.warnings else ""
            raise UsageError(
                f"unknown {kind} {name!r}; choose from: {choices(table)}{hint}"
            ) from None

    @staticmethod
    def provenance(landscapes=(), optimizers=()) -> dict[str, dict]:
        """Where the components of a run came from, by plugin: its source and what it provides.

        ``landscapes`` and ``optimizers`` are settings (anything with a
        ``spec``; an optimizer's ``wrappers`` count too). What ``metadata.json``
        records as ``plugins``.
        """
        out: dict[str, dict] = {}

        def add(kind, spec):
            entry = out.setdefault(spec.plugin, {**spec.source, "provides": []})
            if f"{kind} {spec.name}" not in entry["provides"]:
                entry["provides"].append(f"{kind} {spec.name}")

        for setting in landscapes:
            add("landscape", setting.spec)
        for setting in optimizers:
            add("optimizer", setting.spec)
            for wrapper in getattr(setting, "wrappers", ()):
                add("wrapper", wrapper.spec)
        return dict(sorted(out.items()))


class _Duplicate(UsageError):
    """Two plugins registered one name: an error naming both, whichever plugins they are."""


def _collector(table: dict, cls, kind: str, plugin: str, source: dict, refused: set):
    def register(name, builder, *, params=(), **fields):
        if plugin in refused:
            return
        if not isinstance(name, str) or not name.isidentifier():
            raise DeclarationError(f"registered {'an' if kind[0] in 'aeiou' else 'a'} {kind} with an invalid "
                                   f"name {name!r}")
        if name in table:
            raise _Duplicate(
                f"{kind} {name!r} is registered by two plugins: "
                f"{table[name].plugin!r} and {plugin!r}"
            )
        key = {LandscapeSpec: "build", OptimizerSpec: "factory", WrapperSpec: "wrap",
               SectionSpec: "render", StudySpec: "check"}[cls]
        fields = {k: v for k, v in fields.items() if v is not None}
        try:
            if cls in (SectionSpec, StudySpec):
                spec = cls(name=name, plugin=plugin, source=source, **{key: builder}, **fields)
            else:
                spec = cls(name=name, params=params, plugin=plugin, source=source, **{key: builder}, **fields)
        except TypeError as exc:  # a keyword register() does not take
            raise DeclarationError(f"register() of {kind} {name!r}: {exc}") from None
        table[name] = spec

    if cls is StudySpec:  # register(name, config, check, *, doc="")
        return lambda name, config, check, **fields: register(name, check, config=config, **fields)
    return register


def load_registry(pm: PluginManager | None = None, *, local_files=()) -> Registry:
    """Calls every plugin's registration hooks and collects the specs.

    Each hook implementation is called on its own, with a ``register`` that
    knows which plugin is calling, so that a duplicate name can name both
    plugins and a plugin that raises is reported without hiding the others.
    A plugin refused at registration (it raised, exited, or declared what
    cannot work) is left out whole: none of its components stay.
    """
    if pm is None:
        pm = make_plugin_manager(local_files=local_files)
    registry = Registry(warnings=list(pm.load_errors), sources=dict(pm.sources))
    tables = (registry.landscapes, registry.optimizers, registry.wrappers, registry.sections, registry.studies)
    refused: set[str] = set()

    def refuse(plugin: str, message: str) -> None:
        refused.add(plugin)
        registry.warnings.append(message)
        for table in tables:
            for name in [n for n, spec in table.items() if spec.plugin == plugin]:
                del table[name]

    for hook, table, cls, kind in (
        (pm.hook.register_landscapes, registry.landscapes, LandscapeSpec, "landscape"),
        (pm.hook.register_optimizers, registry.optimizers, OptimizerSpec, "optimizer"),
        (pm.hook.register_wrappers, registry.wrappers, WrapperSpec, "wrapper"),
        (pm.hook.register_report_sections, registry.sections, SectionSpec, "report section"),
        (pm.hook.register_studies, registry.studies, StudySpec, "study"),
    ):
        for impl in hook.get_hookimpls():
            plugin = impl.plugin_name
            if plugin in refused:
                continue
            register = _collector(table, cls, kind, plugin, pm.sources.get(plugin, {}), refused)
            kwargs = {"register": register}
            try:
                _guarded(lambda: impl.function(**{k: kwargs[k] for k in impl.argnames}))
            except _Duplicate:
                raise
            except UsageError as exc:  # a declaration that cannot work
                if plugin in pm.local:
                    raise UsageError(f"plugin {plugin!r}: {exc}") from None
                refuse(plugin, f"plugin {plugin!r} skipped: {exc}")
            except PluginError as exc:  # a broken plugin is reported, not fatal
                refuse(plugin, f"plugin {plugin!r} failed in {hook.name}: {exc}")
    return registry
