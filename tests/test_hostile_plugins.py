"""Hostile plugins and sizes (issue 15, classes 5–8): each is one line and the right exit code, never a traceback.

Markup in plugin text prints literally; the same plugin file given twice
loads once; a run records where every component came from (distribution and
version, or file path and sha256); plugins that exit, raise
KeyboardInterrupt themselves or declare what cannot work are refused with one
line naming them; a real Ctrl-C anywhere (JAX's import, a plugin's import, a
factory, a garbage-collector callback, the report) ends the command with exit
130 and one line; and what cannot fit memory fails its cell with a one-line
reason, under the container's memory limit.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from suite import batching
from suite.cli import EXIT_FAILED_CELLS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, main
from suite.errors import hold_interrupts, interrupts_received, watch_interrupts

MARKUP = "Bowl [/] with E[x] and [bold]x."

# A landscape and an optimizer whose docs, parameter docs and string values are rich markup.
MARKUP_PLUGIN = '''
import jax, jax.numpy as jnp, optax, suite

def _init(data, key):
    return jax.random.normal(key, (2,))

def _loss(data, x, key):
    return jnp.sum(x * x)

def build(values, *, key):
    """Bowl [/] with E[x] and [bold]x."""
    return suite.Landscape(data={}, init_fn=_init, loss_fn=_loss, f_opt=0.0, tags=("convex",))

@suite.hookimpl
def register_landscapes(register):
    register("mk_land", build, params=[suite.Param("mode", str, "[/]", "a [bold]mode E[x]")])

@suite.hookimpl
def register_optimizers(register):
    register("mk_opt", lambda learning_rate, tag: optax.sgd(learning_rate),
             params=[suite.Param("learning_rate", float, 0.1, "step [bold]x", low=0.0),
                     suite.Param("tag", str, "E[x]", "a tag [/]")],
             doc="Descent E[x] [/] [bold]x.")
'''

OPTIMIZER = '''
import os, signal, optax, suite

def factory(learning_rate):
    """Gradient descent."""
    {body}
    return optax.sgd(learning_rate)

@suite.hookimpl
def register_optimizers(register):
    register("{name}", factory, params=[{params}]{extra})
'''
LR = 'suite.Param("learning_rate", float, 0.1, "step size", low=0.0)'


def optimizer_plugin(name="hostile_sgd", body="pass", params=LR, extra=""):
    return OPTIMIZER.format(name=name, body=body, params=params, extra=extra)


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def run_main(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cli(*argv, cwd, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "suite", *map(str, argv)], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=timeout)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def assert_no_traceback(err: str) -> None:
    assert "Traceback" not in err and "Exception ignored" not in err, err


@pytest.fixture(scope="module")
def markup_run(tmp_path_factory):
    """One tiny run of the markup plugin (in this process): its folder, plugin file and leaderboard."""
    folder = tmp_path_factory.mktemp("markup")
    plugin = write(folder, "markup_plugin.py", MARKUP_PLUGIN)
    out = folder / "run"
    import contextlib
    import io

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["run", "--plugin", str(plugin), "--landscape", "mk_land:mode=[/]",
                     "--optimizer", "mk_opt:tag=E[x]", "--restarts", "2", "--steps", "5", "--out", str(out),
                     "--quiet", "--no-report"])
    return {"code": code, "out": out, "plugin": plugin, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}


# --- class 6: plugin text is text, never terminal markup ---------------------------------


def test_suite_list_prints_markup_literally(tmp_path, capsys):
    plugin = write(tmp_path, "markup_plugin.py", MARKUP_PLUGIN)
    code, out, err = run_main(capsys, "list", "--plugin", plugin)
    assert code == EXIT_OK and err == ""
    for text in (MARKUP, "Descent E[x] [/] [bold]x.", "a [bold]mode E[x]", "step [bold]x", "a tag [/]",
                 "mode = '[/]'", "tag = 'E[x]'"):
        assert text in out, text


def test_suite_check_prints_markup_literally(tmp_path, capsys):
    plugin = write(tmp_path, "markup_plugin.py", MARKUP_PLUGIN)
    code, out, err = run_main(capsys, "check", "mk_land", "--plugin", plugin)
    assert code in (EXIT_OK, EXIT_FAILED_CELLS), err
    assert "landscape mk_land" in out and "mk_land(mode='[/]')" in out
    assert_no_traceback(err)


def test_a_runs_leaderboard_prints_markup_literally(markup_run):
    assert markup_run["code"] == EXIT_OK, markup_run["stderr"]
    out = markup_run["stdout"]
    assert "mk_land(mode='[/]')" in out  # the table's title
    assert "mk_opt(tag='E[x]')" in out  # an entry
    assert_no_traceback(markup_run["stderr"])


def test_warnings_print_literally(tmp_path, capsys):
    from rich.console import Console

    from suite.terminal import print_warnings

    console = Console(record=True, width=200)
    print_warnings(console, ["plugin 'x[/]' failed: E[x] [bold]y"])
    assert console.export_text().strip() == "warning: plugin 'x[/]' failed: E[x] [bold]y"


# --- class 7: the same file twice, provenance, plugins refused at registration ---------------------


def test_the_same_plugin_file_twice_loads_once(tmp_path, capsys):
    plugin = write(tmp_path, "markup_plugin.py", MARKUP_PLUGIN)
    link = tmp_path / "link.py"
    link.symlink_to(plugin)
    code, out, err = run_main(capsys, "list", "--plugin", plugin, "--plugin", plugin.resolve(),
                              "--plugin", link)
    assert code == EXIT_OK and err == "" and out.count("\nmk_opt") == 1


def test_a_plugin_given_again_on_resume_loads_once(markup_run, capsys, monkeypatch):
    monkeypatch.chdir(markup_run["plugin"].parent)  # a relative path to the file config.toml records resolved
    code, _, err = run_main(capsys, "run", "--resume", markup_run["out"], "--plugin", "markup_plugin.py",
                            "--quiet", "--no-report")
    assert code == EXIT_OK, err
    assert "registered by two plugins" not in err


def test_a_run_records_where_each_component_came_from(markup_run):
    plugin, out = markup_run["plugin"], markup_run["out"]
    digest = hashlib.sha256(plugin.read_bytes()).hexdigest()
    metadata = json.loads((out / "metadata.json").read_text())
    provenance = metadata["plugins"][str(plugin)]
    assert provenance["path"] == str(plugin.resolve()) and provenance["sha256"] == digest
    assert provenance["provides"] == ["landscape mk_land", "optimizer mk_opt"]
    components = json.loads((out / "plan.json").read_text())["components"]
    for kind, name in (("landscapes", "mk_land"), ("optimizers", "mk_opt")):
        assert components[kind][name]["source"] == {"path": str(plugin.resolve()), "sha256": digest}


def test_built_in_components_name_their_distribution_and_version(registry):
    source = registry.landscapes["bowl"].source
    assert source["module"] == "suite.landscapes.bowl"
    assert source["distribution"] and source["version"]


@pytest.mark.parametrize("source, message", [
    ("import sys\nsys.exit(3)\n", "it called sys.exit(3)"),
    ("raise SystemExit\n", "it called sys.exit()"),
    ("raise KeyboardInterrupt\n", "it raised KeyboardInterrupt itself"),
    ("import suite\n@suite.hookimpl\ndef register_optimizers(register):\n    raise SystemExit(4)\n", None),
], ids=["sys.exit", "SystemExit", "KeyboardInterrupt", "exit-in-hook"])
def test_a_plugin_file_that_exits_or_raises_keyboardinterrupt_is_one_line(tmp_path, capsys, source, message):
    plugin = write(tmp_path, "evil.py", source)
    code, out, err = run_main(capsys, "list", "--plugin", plugin)
    assert_no_traceback(err)
    if message is None:  # raising while registering is a warning: the plugin is skipped, the rest loads
        assert code == EXIT_OK and "adam" in out
        assert lines(err) == [] and "warning: plugin" in out and "it called sys.exit(4)" in out
    else:
        assert code == EXIT_USAGE
        assert len(lines(err)) == 1, err
        assert err.startswith(f"suite: error: plugin file {str(plugin)!r} failed to import: {message}"), err


MALFORMED = [
    ("sweep-of-strings", dict(extra=', sweep={"learning_rate": ["a", "b"]}'), "sweep of 'learning_rate' holds 'a'"),
    ("empty-sweep", dict(extra=', sweep={"learning_rate": []}'), "sweep of 'learning_rate' is empty"),
    ("sweep-as-text", dict(extra=', sweep={"learning_rate": "0.1,1"}'), "must be a list of values"),
    ("undeclared-sweep", dict(extra=', sweep={"momentum": [0.5, 0.9]}'), "sweep names 'momentum', which is not"),
    ("default-out-of-range", dict(params='suite.Param("learning_rate", float, -1.0, "step", low=0.0)'),
     "default -1.0 is not a float >= 0"),
    ("default-a-string", dict(params='suite.Param("learning_rate", float, "0.1", "step")'),
     "default '0.1' is not a float"),
    ("bound-a-string", dict(params='suite.Param("learning_rate", float, 0.1, "step", low="0")'),
     "low must be a number"),
    ("low-above-high", dict(params='suite.Param("learning_rate", float, 0.1, "step", low=1.0, high=0.0)'),
     "low 1.0 is above high 0.0"),
    ("type-as-text", dict(params='suite.Param("learning_rate", "float", 0.1, "step")'), "type must be one of"),
    ("params-a-dict", dict(params='{"learning_rate": 0.1}'), "params must be a list of suite.Param"),
    ("twice-declared", dict(params=f"{LR}, {LR}"), "parameter 'learning_rate' is declared twice"),
    ("choices-on-a-number", dict(params='suite.Param("learning_rate", float, 0.1, "step", choices=("a",))'),
     "choices are for strings"),
    ("bad-name", dict(name="not a name"), "invalid name 'not a name'"),
    ("bad-test-config", dict(extra=', test_config={"learning_rate": "fast"}'), "test_config of 'learning_rate'"),
    ("unknown-keyword", dict(extra=", colour='red'"), "unexpected keyword argument 'colour'"),
]


@pytest.mark.parametrize("overrides, message", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_a_plugin_file_with_malformed_declarations_is_exit_2_naming_it(tmp_path, capsys, overrides, message):
    plugin = write(tmp_path, "malformed.py", optimizer_plugin(**overrides))
    code, _, err = run_main(capsys, "list", "--plugin", plugin)
    assert code == EXIT_USAGE, err
    assert_no_traceback(err)
    assert len(lines(err)) == 1 and err.startswith(f"suite: error: plugin {str(plugin)!r}: "), err
    assert message in err, err


def _installed(folder: Path, modules: dict[str, str]) -> dict:
    """A distribution 'hostile' 0.1 with one entry point per module, on PYTHONPATH (no pip)."""
    site = folder / "site"
    info = site / "hostile-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hostile\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[suite]\n" + "".join(f"{m} = {m}\n" for m in modules))
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))
    return dict(os.environ, PYTHONPATH=str(site))


def test_installed_plugins_that_exit_or_declare_badly_are_skipped_with_one_warning_each(tmp_path):
    env = _installed(tmp_path, {
        "hostile_exit": "import sys\nsys.exit(5)\n",
        "hostile_interrupt": "raise KeyboardInterrupt\n",
        "hostile_sweep": optimizer_plugin("hostile_sweep_sgd", extra=', sweep={"learning_rate": []}'),
        "hostile_fine": optimizer_plugin("hostile_fine_sgd"),
    })
    done = cli("list", cwd=tmp_path, env=env)
    assert done.returncode == EXIT_OK, done.stderr
    assert_no_traceback(done.stderr)
    warnings = [line for line in done.stdout.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 3, warnings
    assert any("'hostile_exit'" in w and "it called sys.exit(5)" in w for w in warnings)
    assert any("'hostile_interrupt'" in w and "KeyboardInterrupt itself" in w for w in warnings)
    assert any("'hostile_sweep' skipped" in w and "is empty" in w for w in warnings)
    assert "\nhostile_sweep_sgd (" not in done.stdout  # skipped whole: not listed
    assert "hostile_fine_sgd (hostile_fine)" in done.stdout  # the good plugin of the same distribution


def test_an_installed_plugins_source_is_its_distribution(tmp_path):
    env = _installed(tmp_path, {"hostile_fine": optimizer_plugin("hostile_fine_sgd")})
    probe = ("import json; from suite.registry import load_registry; "
             "print(json.dumps(load_registry().optimizers['hostile_fine_sgd'].source))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert json.loads(done.stdout) == {"distribution": "hostile", "version": "0.1", "module": "hostile_fine"}


# --- class 8: a real Ctrl-C anywhere is exit 130 and one line ----------------------------------------

SIGINT_AT_IMPORT = "import os, signal, time\nos.kill(os.getpid(), signal.SIGINT)\ntime.sleep(30)\n"
# Ctrl-C landing inside a garbage-collector callback, where Python ignores exceptions (JAX has one).
SIGINT_IN_GC_CALLBACK = '''
import gc, os, signal, time
fired = []
def _callback(phase, info):
    if phase == "start" and not fired:
        fired.append(1)
        os.kill(os.getpid(), signal.SIGINT)
gc.callbacks.append(_callback)
try:
    gc.collect()
finally:
    gc.callbacks.remove(_callback)
time.sleep(30)
'''
SIGINT_IN_SECTION = '''
import os, signal, suite

def render(report):
    """Sends Ctrl-C to its own process."""
    os.kill(os.getpid(), signal.SIGINT)
    return []

@suite.hookimpl
def register_report_sections(register):
    register("interrupting", render, title="Interrupting [/]", order=15)
'''


@pytest.mark.parametrize("source", [SIGINT_AT_IMPORT, SIGINT_IN_GC_CALLBACK], ids=["import", "gc-callback"])
def test_ctrl_c_inside_a_plugins_import_is_130_and_one_line(tmp_path, source):
    plugin = write(tmp_path, "interrupting.py", source)
    start = time.monotonic()
    done = cli("list", "--plugin", plugin, cwd=tmp_path)
    assert done.returncode == EXIT_INTERRUPTED, done.stderr
    assert lines(done.stderr) == ["suite: interrupted"]
    assert time.monotonic() - start < 30  # never swallowed: the plugin's sleep did not run out


def test_ctrl_c_inside_a_factory_is_130_and_one_line(tmp_path):
    plugin = write(tmp_path, "interrupting.py",
                   optimizer_plugin("sigsgd", body="os.kill(os.getpid(), signal.SIGINT)"))
    done = cli("run", "--plugin", plugin, "--landscape", "bowl:dim=2", "--optimizer", "sigsgd",
               "--restarts", "2", "--steps", "2", "--out", tmp_path / "run", "--quiet", "--no-report", cwd=tmp_path)
    assert done.returncode == EXIT_INTERRUPTED, done.stderr
    assert_no_traceback(done.stderr)
    assert sum("interrupted" in line for line in lines(done.stderr)) == 1, done.stderr


def test_ctrl_c_during_suite_report_is_130_and_one_line(markup_run, tmp_path):
    section = write(tmp_path, "interrupting.py", SIGINT_IN_SECTION)
    done = cli("report", markup_run["out"], "--plugin", section, "--plugin", markup_run["plugin"],
               "--out", tmp_path / "report.html", cwd=tmp_path)
    assert done.returncode == EXIT_INTERRUPTED, done.stderr
    assert lines(done.stderr) == ["suite: interrupted"]


@pytest.mark.parametrize("delay", [0.2, 0.6, 1.0, 2.0])
def test_ctrl_c_in_the_first_seconds_of_a_run_is_130_and_one_line(tmp_path, delay):
    # The plugin sleeps at import, so the run is still going whenever the signal
    # lands: in JAX's import (the first second) or in the plugin loading after it.
    plugin = write(tmp_path, "slow.py", "import time\ntime.sleep(30)\n")
    process = subprocess.Popen([sys.executable, "-m", "suite", "run", "--plugin", str(plugin), "--landscape",
                                "bowl:dim=2", "--optimizer", "sgd", "--restarts", "2", "--steps", "2",
                                "--out", str(tmp_path / "run"), "--quiet", "--no-report"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == EXIT_INTERRUPTED, err
    assert_no_traceback(err)
    assert lines(err) == ["suite: interrupted (finished cells are kept; continue a run with --resume RUN_DIR)"]


def test_a_plugin_raised_keyboardinterrupt_outside_the_command_is_taken_as_real(tmp_path):
    # As a library (no watch), a KeyboardInterrupt cannot be told from Ctrl-C: it goes through.
    from suite.registry import load_registry

    plugin = write(tmp_path, "raises.py", "raise KeyboardInterrupt\n")
    assert interrupts_received() is None
    with pytest.raises(KeyboardInterrupt):
        load_registry(local_files=[plugin])


def test_a_held_ctrl_c_is_raised_when_the_block_ends():
    with watch_interrupts() as watch:
        if watch is None:
            pytest.skip("SIGINT is not Python's default here (not the main thread, or ignored)")
        with pytest.raises(KeyboardInterrupt):
            with hold_interrupts():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # the handler runs here, and only counts
                assert watch.received == 1
        assert interrupts_received() == 1


# --- class 5: what cannot fit memory fails its cell in one line ---------------------------------------


@pytest.fixture
def fake_cgroup(tmp_path, monkeypatch):
    """A container memory limit of our choosing: writes it to a fake cgroup file the budget reads."""
    file = tmp_path / "memory.max"
    monkeypatch.setattr(batching, "CGROUP_LIMIT_FILES", (str(file),))
    monkeypatch.setattr(batching, "PROC_CGROUP", str(tmp_path / "no-such-file"))

    def limit(text: str) -> None:
        file.write_text(text + "\n")

    return limit


def test_the_memory_budget_respects_the_container_limit(fake_cgroup):
    import jax

    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    fake_cgroup("max")  # cgroup v2 without a limit
    assert batching.host_memory_limit() == physical
    fake_cgroup("9223372036854771712")  # cgroup v1 without a limit
    assert batching.host_memory_limit() == physical
    fake_cgroup(str(64 << 20))
    assert batching.host_memory_limit() == 64 << 20
    device = jax.devices("cpu")[0]
    assert batching.memory_budget(device) == int(batching.HOST_FRACTION * (64 << 20))


def test_v1_and_the_processs_own_cgroup_are_read_too(tmp_path, monkeypatch):
    v1 = tmp_path / "memory.limit_in_bytes"
    v1.write_text(str(32 << 20))
    monkeypatch.setattr(batching, "CGROUP_LIMIT_FILES", (str(tmp_path / "absent"), str(v1)))
    monkeypatch.setattr(batching, "PROC_CGROUP", str(tmp_path / "no-such-file"))
    assert batching.host_memory_limit() == 32 << 20


def _failed_cell(tmp_path, name, **settings):
    import suite

    run = suite.run(out=tmp_path / name, progress=False, compile_cache="off", steps=2, **settings)
    cells = run.cells
    assert len(cells) == 1 and cells["status"].iloc[0] == "failed", cells.to_dict("records")
    error = cells["error"].iloc[0]
    assert "\n" not in error and error.startswith("DoesNotFit: "), error
    return error


def test_one_restart_larger_than_the_device_fails_its_cell_in_one_line(tmp_path, fake_cgroup):
    fake_cgroup(str(1 << 20))  # 1 MiB: the budget is half of it
    error = _failed_cell(tmp_path, "restart", landscapes=["bowl:dim=20000:rotate=false"],
                         optimizers=["sgd:learning_rate=0.1"], restarts=2)
    assert "for one restart (20,000 coordinates, 1 setting, the instance included); this device allows" in error


def test_an_instance_larger_than_the_device_is_refused_before_it_is_built(tmp_path, fake_cgroup):
    fake_cgroup(str(1 << 20))
    # A 100000 × 100000 rotation (37 GiB) would be drawn: the abstract build says so first.
    error = _failed_cell(tmp_path, "instance", landscapes=["bowl:dim=100000"], optimizers=["sgd:learning_rate=0.1"],
                         restarts=2)
    assert error.startswith("DoesNotFit: the instance of bowl(") and "needs 37.3 GiB" in error


def test_restarts_whose_tables_cannot_fit_the_host_fail_their_cell_in_one_line(tmp_path):
    error = _failed_cell(tmp_path, "tables", landscapes=["bowl:dim=2"], optimizers=["sgd:learning_rate=0.1"],
                         restarts=10**9)
    assert "the tables of 1,000,000,000 restarts × 1 setting need" in error and "of host memory" in error


def test_a_run_that_fits_is_unchanged_by_the_checks(tmp_path, fake_cgroup):
    import suite

    fake_cgroup(str(256 << 20))
    run = suite.run(landscapes=["bowl:dim=3"], optimizers=["sgd:learning_rate=0.1"], restarts=4, steps=5,
                    out=tmp_path / "fits", progress=False, compile_cache="off")
    assert (run.cells["status"] == "ok").all()


def test_control_characters_from_a_plugin_cannot_restyle_the_terminal(tmp_path, capsys):
    plugin = tmp_path / "esc.py"
    plugin.write_text(textwrap.dedent('''
        import suite, optax

        def escaped(learning_rate=0.1):
            """Descent \\x1b[31mred\\x1b[0m and a bell \\x07."""
            return optax.sgd(learning_rate)

        @suite.hookimpl
        def register_optimizers(register):
            register("esc_opt", escaped, params=[suite.Param("learning_rate", float, 0.1, "step")])
    '''))
    assert main(["list", "--plugin", str(plugin)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "Descent \\x1b[31mred\\x1b[0m and a bell \\x07." in out
