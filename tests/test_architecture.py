"""The shape of the code: data flows one way, modules stay small and say what they own.

The stages, in order (a module may import only from its own stage or earlier
ones; reading the source, not importing it):

    foundation  errors, types, params, specs, verdict, hookspecs, registry, minibatch, environment, trig
    metrics     the scoring rules over tables (JAX-free): used by the runner to
                score a cell and by the report to rank, one implementation each
    config → plan → results (the run folder on disk) → study (a study's size and verdict)
    device      diagnostics, program, streams, compiler, batching
    run         tables, diagnostics_host, runner
    report      the HTML report and the published site
    interface   conformance (suite check), terminal, api, arguments, cli

So ``program`` or ``runner`` importing ``report``, or ``metrics`` importing
``runner``, fails here. Built-in plugins (``suite.landscapes``,
``suite.plugins``) may use only the foundation, as third-party ones do.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import suite

ROOT = Path(suite.__file__).resolve().parent
REPO = ROOT.parent
MAX_LINES = 400

STAGES = (
    ("errors", "types", "params", "specs", "verdict", "hookspecs", "registry", "minibatch", "environment",
     "trig"),
    ("metrics",),
    ("config",),
    ("plan",),
    ("results",),
    ("study",),
    ("diagnostics",),
    ("program",),
    ("streams",),
    ("compiler",),
    ("batching",),
    ("tables",),
    ("diagnostics_host",),
    ("runner",),
    ("report",),
    ("export",),
    ("conformance",),
    ("terminal",),
    ("runs",),
    ("execution",),
    ("api",),
    ("study_api",),
    ("arguments",),
    ("study_cli", "run_cli"),
    ("cli", "__main__"),
)
RANK = {name: rank for rank, names in enumerate(STAGES) for name in names}
FOUNDATION = STAGES[0]


def _modules() -> dict[str, Path]:
    """Every module of the installed package by dotted name (``suite.metrics.board``)."""
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(("suite", *parts))] = path
    return found


MODULES = _modules()


def _stage(module: str) -> str | None:
    """The stage name of ``suite.x.y`` (its top-level part under ``suite``); None for ``suite`` itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    """Every ``suite`` module ``path`` imports (at any depth: lazy imports count), with line numbers."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "suite"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "suite":
                continue
            for alias in node.names:
                # `from suite import metrics` imports a module; `from suite import Param` a name.
                name = f"{base}.{alias.name}"
                out.append((node.lineno, name if name in MODULES else base))
    return out


def test_every_module_is_placed_in_a_stage():
    unplaced = sorted(m for m in MODULES if _stage(m) and _stage(m) not in RANK
                      and _stage(m) not in ("landscapes", "plugins"))
    assert not unplaced, f"add these modules to STAGES in {__file__}: {unplaced}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_reaches_back_to_an_earlier_stage(module):
    stage = _stage(module)
    if stage is None:  # the package facade re-exports the API lazily
        return
    bad = []
    for line, target in _imports(MODULES[module], module):
        other = _stage(target)
        if other is None:
            if stage in ("landscapes", "plugins") or RANK.get(stage, 0) > RANK["specs"]:
                continue  # `import suite` for hookimpl and Param
            bad.append((line, target))
        elif stage in ("landscapes", "plugins"):
            if other not in FOUNDATION and other != stage:
                bad.append((line, target))
        elif other in ("landscapes", "plugins") or RANK[other] > RANK[stage]:
            bad.append((line, target))
    where = MODULES[module].relative_to(REPO) if MODULES[module].is_relative_to(REPO) else MODULES[module]
    assert not bad, (f"{where} ({stage}) imports from a later stage: "
                     + ", ".join(f"line {line}: {target}" for line, target in bad))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_small_and_open_with_what_they_own(module):
    path = MODULES[module]
    text = path.read_text()
    lines = text.count("\n")
    assert lines <= MAX_LINES, f"{path.name}: {lines} lines; split it by job (limit {MAX_LINES})"
    doc = ast.get_docstring(ast.parse(text))
    assert doc and doc.strip(), f"{module} has no docstring saying what it owns"
    first = doc.strip().splitlines()[0]
    assert first.endswith(".") or first.endswith(":"), f"{module}: the first docstring line is not one sentence"


def test_the_checker_sees_a_backward_import(tmp_path):
    # The test above must be able to fail: a runner that imports the report is caught.
    fake = tmp_path / "runner.py"
    fake.write_text('"""x."""\nfrom suite.report import Report\nfrom suite import metrics\n')
    targets = [t for _, t in _imports(fake, "suite.runner")]
    assert "suite.report" in targets and "suite.metrics" in targets
    assert RANK[_stage("suite.report")] > RANK["runner"] > RANK[_stage("suite.metrics")]
