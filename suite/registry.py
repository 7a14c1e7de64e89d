"""Plugin discovery: one path for built-in, installed and single-file plugins.

:func:`make_plugin_manager` builds a fresh pluggy manager (none exists at import
time); :func:`load_registry` asks every plugin to register its landscapes,
optimizers and wrappers and returns the resulting :class:`Registry`.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import sys
from pathlib import Path

import pluggy

from suite import hookspecs
from suite.errors import UsageError, choices, one_line
from suite.specs import LandscapeSpec, OptimizerSpec, SectionSpec, WrapperSpec

GROUP = "suite"


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus the plugins that failed to load (kept, not raised)."""

    def __init__(self):
        super().__init__(GROUP)
        self.load_errors: list[str] = []


def _load_entry_points(pm: PluginManager, entry_points) -> None:
    # pluggy's load_setuptools_entrypoints stops at the first plugin that fails
    # to import; one broken third-party package must not hide every other one.
    for ep in entry_points:
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import failure is reported, not raised
            pm.load_errors.append(f"plugin {ep.name!r} failed to load: {_one_line(exc)}")
            continue
        _register(pm, plugin, ep.name)


def load_file(path: str | Path):
    """Imports one local plugin file as a module."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"plugin file {str(path)!r} does not exist")
    if path.suffix != ".py":
        raise UsageError(f"plugin file {str(path)!r} must be a .py file")
    module_name = f"suite_local_plugin_{path.stem}_{abs(hash(str(path.resolve()))):x}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - reported as one line
        del sys.modules[module_name]
        raise UsageError(f"plugin file {str(path)!r} failed to import: {_one_line(exc)}") from None
    return module


def _register(pm: PluginManager, plugin, name: str) -> None:
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise UsageError(f"plugin {name!r}: {_one_line(exc)}") from None


def make_plugin_manager(*, local_files=(), entry_points=None) -> PluginManager:
    """A fresh manager with every installed plugin and the given local files.

    Args:
      local_files: paths of single-file plugins (``suite run --plugin FILE``).
      entry_points: the entry points to load; by default those of the group
        ``suite`` in the installed distributions (tests pass their own).

    Raises:
      UsageError: a local file is missing or fails to import, or a hook
        implementation matches no hook specification.
    """
    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=GROUP)
    _load_entry_points(pm, entry_points)
    for path in local_files:
        _register(pm, load_file(path), str(path))
    # pluggy's check_pending(), with the valid hook names in the message: an
    # implementation whose name matches no spec (a typo) is refused.
    specs = sorted(n for n, c in vars(pm.hook).items()
                   if isinstance(c, pluggy.HookCaller) and c.has_spec())
    for name, caller in vars(pm.hook).items():
        if isinstance(caller, pluggy.HookCaller) and not caller.has_spec():
            for impl in caller.get_hookimpls():
                if not impl.optionalhook:
                    raise UsageError(f"plugin {impl.plugin_name!r} implements unknown hook "
                                     f"{name!r}; choose from: {choices(specs)}")
    return pm


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, pluggy.PluginValidationError):
        return " ".join(str(exc).split())
    return one_line(exc)


@dataclasses.dataclass
class Registry:
    """Every registered landscape, optimizer, wrapper and report section, by name."""

    landscapes: dict[str, LandscapeSpec] = dataclasses.field(default_factory=dict)
    optimizers: dict[str, OptimizerSpec] = dataclasses.field(default_factory=dict)
    wrappers: dict[str, WrapperSpec] = dataclasses.field(default_factory=dict)
    sections: dict[str, SectionSpec] = dataclasses.field(default_factory=dict)
    # Plugins that failed to load or to register, one line each: the run goes on without them.
    warnings: list[str] = dataclasses.field(default_factory=list)

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

    def _get(self, table, name, kind):
        try:
            return table[name]
        except KeyError:
            hint = f" ({'; '.join(self.warnings)})" if self.warnings else ""
            raise UsageError(
                f"unknown {kind} {name!r}; choose from: {choices(table)}{hint}"
            ) from None


def _collector(table: dict, cls, kind: str, plugin: str):
    def register(name, builder, *, params=(), **fields):
        if not isinstance(name, str) or not name.isidentifier():
            raise UsageError(f"plugin {plugin!r} registered a {kind} with an invalid name {name!r}")
        if name in table:
            raise UsageError(
                f"{kind} {name!r} is registered by two plugins: "
                f"{table[name].plugin!r} and {plugin!r}"
            )
        key = {LandscapeSpec: "build", OptimizerSpec: "factory", WrapperSpec: "wrap",
               SectionSpec: "render"}[cls]
        fields = {k: v for k, v in fields.items() if v is not None}
        if cls is SectionSpec:  # a bad section is reported like a plugin that raises
            table[name] = cls(name=name, plugin=plugin, render=builder, **fields)
            return
        table[name] = cls(name=name, params=params, plugin=plugin, **{key: builder}, **fields)

    return register


def load_registry(pm: PluginManager | None = None, *, local_files=()) -> Registry:
    """Calls every plugin's registration hooks and collects the specs.

    Each hook implementation is called on its own, with a ``register`` that
    knows which plugin is calling, so that a duplicate name can name both
    plugins and a plugin that raises is reported without hiding the others.
    """
    if pm is None:
        pm = make_plugin_manager(local_files=local_files)
    registry = Registry(warnings=list(pm.load_errors))
    for hook, table, cls, kind in (
        (pm.hook.register_landscapes, registry.landscapes, LandscapeSpec, "landscape"),
        (pm.hook.register_optimizers, registry.optimizers, OptimizerSpec, "optimizer"),
        (pm.hook.register_wrappers, registry.wrappers, WrapperSpec, "wrapper"),
        (pm.hook.register_report_sections, registry.sections, SectionSpec, "report section"),
    ):
        for impl in hook.get_hookimpls():
            register = _collector(table, cls, kind, impl.plugin_name)
            kwargs = {"register": register}
            try:
                impl.function(**{k: kwargs[k] for k in impl.argnames})
            except UsageError:
                raise
            except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, not fatal
                registry.warnings.append(
                    f"plugin {impl.plugin_name!r} failed in {hook.name}: {_one_line(exc)}"
                )
    return registry
