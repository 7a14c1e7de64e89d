"""COCO's text format (``.info``, ``.dat``, ``.tdat``) for the real ``cocopp``: ``python -m cocopp OUT/adam ...``.

What is written, for each entry (one algorithm folder) and each landscape
setting (one COCO function, numbered in the run's order):

- ``bbobexp_f<n>.info``: one entry ``suite = ..., funcId = n, DIM = d, ...``,
  a ``%`` comment line that says what the function is and how the numbers
  were made, and the data file with one ``instance:evaluations|Δf`` per trial;
- ``data_f<n>/bbobexp_f<n>_DIM<d>.dat`` and ``.tdat``: per trial a ``%``
  header, then ``evaluations 0 Δf f f_best`` lines (the ``bbob-new2`` data
  format of COCO's logger, ``logger_bbob.c``, with no constraint evaluations).

Each restart is one trial on COCO instance (the run's instance + 1), at the
setting the leaderboard selected for the entry there. Evaluations count as
COCO counts them, the one that meets the target included: f − f* met a
target at step t (after t updates) when the loss and its gradient had been
evaluated t + 1 times, at x_0, ..., x_t. The suite's ERT counts the t updates
(a target met at the start costs 0), so cocopp's aRT is the run's ERT plus
one per trial over the successes: aRT = ERT + 1 / success rate. (Counting
updates instead would make an aRT of 0, on which cocopp's tables fail:
``pptable.main`` divides by it.) cocopp aligns trials at Δf = 10^(k/5) and
takes, per trial, the first line whose Δf is at or below it
(``readalign.HMultiReader``), and an unsuccessful trial's last evaluation
(``DataSet.maxevals``). The lines are the steps where each target was first
met (Δf = that target, an upper bound: the run keeps first hits, not the loss
there) and a last line at the steps run, with the best Δf. At targets off
that grid cocopp's runtimes are upper bounds.

cocopp processes only the testbeds it knows (``testbedsettings.suite_to_testbed``
raises ``ValueError`` for others), each with function numbers 1-24
(``pprldmany`` looks up their BBOB names). ``bbob-boxed`` is the one without a
reference algorithm, so no foreign results are drawn next to the entries;
cocopp's figure titles still print BBOB's names for the numbers, which are not
these functions: the export's README.txt and every .info comment say which
landscape each number is.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from suite.errors import UsageError
from suite.export.common import Function, Selected, Trials, claim_out, improvements, select, staged

# The cocopp testbed the data claim; see the module docstring.
SUITE = "bbob-boxed"
MAX_FUNCTIONS = 24
# COCO's logger writes a NaN loss as 2e21 and an infinite one as 3e21 (coco.h); cocopp reads 3e21 as inf-like.
NAN_FOR_LOGGING, INFINITY_FOR_LOGGING = 2e21, 3e21
# cocopp counts a Δf within 1e-9 (relative, readalign.is_close) or 1e-12 (absolute, HMultiReader.align)
# above a target as meeting it; a last line must stay clear of a target the restart never met.
_REL, _ABS = 1e-8, 2e-12

COLUMNS = ("% f evaluations (optimizer steps + 1) | g evaluations | best noise-free fitness - {kind} ({f_opt:+.12e}) "
           "+ sum g_i+ | measured fitness | best measured fitness\n")


def write(run_dir: Path, out: Path) -> Path:
    """Writes the run in ``run_dir`` as COCO data under ``out`` (one folder per entry); returns ``out``.

    Raises a one-line :class:`UsageError` for a folder that is not a run, a
    run with more landscape settings than cocopp has function numbers, and
    an ``out`` that is a file or holds other files.
    """
    earlier = claim_out(out, "coco")
    selected = select(run_dir)
    if len(selected.functions) > MAX_FUNCTIONS:
        raise UsageError(f"run {str(run_dir)!r} has {len(selected.functions)} landscape settings; cocopp knows "
                         f"functions 1-{MAX_FUNCTIONS} only: export a run of at most {MAX_FUNCTIONS} (the ioh "
                         f"format has no such limit)")
    folders = _folders(sorted({t.entry for t in selected.trials}))
    with staged(out, "coco", run_dir, earlier) as tmp:
        for entry, folder in folders.items():
            for function in selected.functions:
                trials = [t for t in selected.trials if t.entry == entry and t.function is function]
                if trials:
                    _write_function(tmp / folder, entry, function, trials, selected)
        (tmp / "README.txt").write_text(_readme(selected, folders), encoding="utf-8")
    return out


def _folders(entries: list[str]) -> dict[str, str]:
    """A folder name per entry (cocopp names the algorithm after its folder): letters, digits and ``._+-``, unique."""
    out: dict[str, str] = {}
    for entry in entries:
        base = re.sub(r"[^\w.+-]+", "_", entry).strip("._-") or "entry"  # letters of any script: λsgd stays
        name, k = base, 2
        while name.lower() in (n.lower() for n in out.values()) or name.lower() == "readme.txt":
            name, k = f"{base}-{k}", k + 1
        out[entry] = name
    return out


def _exported(function: Function, targets: np.ndarray) -> np.ndarray:
    """The targets written: those at or above the landscape's float resolution."""
    return targets[targets >= function.resolution]


def _write_function(folder: Path, entry: str, function: Function, trials: list[Trials], selected: Selected) -> None:
    n, dim = function.number, function.coordinates
    stem = f"data_f{n}/bbobexp_f{n}_DIM{dim}"
    (folder / f"data_f{n}").mkdir(parents=True, exist_ok=True)
    exported = _exported(function, selected.targets)
    precision = float(exported[-1]) if exported.size else function.resolution
    blocks, runs = [], []
    for t in trials:
        for r in range(len(t.steps)):
            lines, final_df = _lines(t, r, selected.targets, function)
            header = (f"% instance = {t.instance + 1}, restart = {r}, cell = {t.cell_id}; at a line where a target "
                      f"was first met, Delta f is that target (the run keeps the step, not the loss)\n")
            blocks.append(header + COLUMNS.format(kind=_kind(function), f_opt=t.f_opt) + "".join(lines))
            runs.append(f"{t.instance + 1}:{int(t.steps[r]) + 1}|{final_df:.1e}")
    data = "".join(blocks)
    (folder / f"{stem}.dat").write_text(data, encoding="utf-8")
    (folder / f"{stem}.tdat").write_text(data, encoding="utf-8")
    info = (f"suite = '{SUITE}', funcId = {n}, DIM = {dim}, Precision = {precision:.3e}, "
            f"algId = '{_quoted(entry)}', logger = 'suite export', data_format = 'bbob-new2'\n"
            f"{_comment(entry, function, trials, selected, precision)}\n"
            f"{stem}.dat, " + ", ".join(runs) + "\n")
    (folder / f"bbobexp_f{n}.info").write_text(info, encoding="utf-8")


def _lines(t: Trials, r: int, targets: np.ndarray, function: Function) -> tuple[list[str], float]:
    """The data lines of restart ``r`` and the Δf of its last line."""
    f_opt = t.f_opt
    met_at = [(step, _on_grid(df)) for step, df in improvements(t, r, targets)]
    # COCO's logger always writes the first evaluation, and cocopp relies on it (pprldistr.plotFVDistr
    # asserts a first line within the smallest budget). The run does not record f(x_0): unless a
    # target was met there, the line carries COCO's infinity, a bound that says nothing.
    unknown = [] if met_at and met_at[0][0] == 0 else [_line(1, np.inf, np.inf, np.inf)]
    lines = unknown + [_line(step + 1, df, f_opt + df, f_opt + df) for step, df in met_at]
    met = ~np.isnan(t.hits[r])
    unmet = targets[~met & (targets >= function.resolution)]
    best_df = t.best[r] - f_opt
    # Never above the hardest target met, nor within cocopp's tolerance of an easier one not met (float rounding).
    if met.any():
        best_df = min(best_df, _on_grid(float(targets[met][-1])))
        # cocopp takes no Δf ≤ 0 (a reference or unknown f* allows it): the hardest target met bounds it.
        best_df = best_df if best_df > 0 else _on_grid(float(targets[met][-1]))
    elif not best_df > 0:
        best_df = float(targets[-1]) / 10
    if unmet.size:
        best_df = max(best_df, max(unmet[0] * (1 + _REL), unmet[0] + _ABS))
    lines.append(_line(int(t.steps[r]) + 1, best_df, t.final[r], t.best[r]))
    return lines, _logged(best_df)


def _on_grid(df: float) -> float:
    """A target of COCO's grid 10^(k/5) as cocopp computes it (``numpy.power``), which can be one float
    step below the suite's ``10.0 ** (k / 5)``: cocopp compares without tolerance. Other values as they are."""
    k = round(5 * np.log10(df)) if df > 0 else 0
    grid = float(np.power(10, k / 5))
    return min(df, grid) if abs(grid - df) <= 1e-12 * df else df


def _line(evaluations: int, df: float, f: float, f_best: float) -> str:
    return f"{evaluations} 0 {_logged(df):+.16e} {_logged(f):+.16e} {_logged(f_best):+.16e}\n"


def _logged(value: float) -> float:
    """A number as COCO's logger writes it: NaN as 2e21, ±inf as ±3e21."""
    if np.isnan(value):
        return NAN_FOR_LOGGING
    return float(np.clip(value, -INFINITY_FOR_LOGGING, INFINITY_FOR_LOGGING))


def _kind(function: Function) -> str:
    return {"exact": "Fopt", "reference": "Fref"}.get(function.f_opt_kind, "Fref")


def _quoted(text: str) -> str:
    """Text for a quoted .info value (cocopp splits on ', ' outside quotes and reads the value as a literal)."""
    return " ".join(text.split()).replace("\\", "/").replace("'", '"')


def _comment(entry: str, function: Function, trials: list[Trials], selected: Selected, precision: float) -> str:
    """The .info comment line: what the function is and how its numbers were made (one line, ASCII)."""
    settings = "; ".join(f"instance {t.instance + 1}: {t.setting or 'its only setting'}" for t in trials)
    if "*" in settings:
        settings += "; * marks a value at the edge of its sweep"
    values = dict(sorted({t.instance + 1: t.f_opt for t in trials}.items()))
    shown = (f"{next(iter(values.values()), 0.0):.10g}" if len(set(values.values())) <= 1 else
             "(per instance) " + ", ".join(f"{i}: {v:.10g}" for i, v in values.items()))
    f_star = {"exact": f"f* = {shown} (exact)",
              "reference": f"f* = {shown} is a reference value, not this instance's proven minimum: "
                           f"Delta f can be negative (a last line never shows Delta f <= 0: the hardest target met "
                           f"bounds it there; the f columns hold the loss)",
              "unknown": "f* is unknown: Delta f is f - 0, as the run measured it (a last line never shows "
                         "Delta f <= 0: the hardest target met bounds it there; the f columns hold the loss)"}[
        function.f_opt_kind]
    text = (f"% f{function.number} is the landscape {function.label} of the suite run {selected.run.name} "
            f"(not BBOB's f{function.number}), {function.coordinates} coordinates; {entry} at the setting the "
            f"leaderboard selected on each instance ({settings}); each restart is one trial; evaluations are the loss "
            f"and gradient evaluations, optimizer steps + 1 (the start x_0 is evaluation 1), so cocopp's aRT at "
            f"targets 10^(k/5) is the run's ERT (in steps) + 1 / success rate; {f_star}; "
            f"targets below {precision:.3g} are below float resolution or the run's last target and are not written")
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in " ".join(text.split()))


def _readme(selected: Selected, folders: dict[str, str]) -> str:
    functions = "\n".join(f"  f{f.number:<3} DIM {f.coordinates:<8} {f.label}   (f* {f.f_opt_kind}: {f.f_opt:.10g}"
                          + (", instance 1's; each instance's is in its .info" if len({t.f_opt for t in selected.trials
                                                                                 if t.function == f}) > 1 else "")
                          + ")" for f in selected.functions)
    entries = "\n".join(f"  {folder:<24} {entry}" for entry, folder in folders.items())
    return f"""COCO data of the suite run {selected.run.resolve()}, written by `suite export --format coco`.

Read it with the real cocopp (pip install cocopp), in this folder (it writes ppdata/):
  python -m cocopp --no-interactive {" ".join(folders.values())}

Functions (one per landscape setting; the numbers are NOT BBOB's functions, although cocopp,
which knows only its own testbeds, prints BBOB's names for them in figure titles and groups
them as BBOB's function classes; the data claim the testbed {SUITE}, whose cocopp settings
draw no reference algorithm):
{functions}

Algorithms (one folder per entry; cocopp names an algorithm after its folder):
{entries}

How the numbers were made:
- Each entry is exported at the setting the leaderboard selected for it on each landscape instance;
  cells that failed or did not finish are not exported.
- Each restart is one trial; COCO instance k is the run's landscape instance k - 1.
- Evaluations count the loss-and-gradient evaluations as COCO counts them, the one that met the
  target included: a target first met at step t (after t updates) took t + 1 evaluations, at
  x_0, ..., x_t; an unsuccessful restart took its steps run + 1 (fewer than T + 1 if it diverged).
  The suite's ERT counts updates (t), so cocopp's aRT at a target 10^(k/5) is the run's ERT
  (cells.parquet, ert_<target>) + 1 / success rate there.
- The run records the first step at which each target was met, not the loss at every step: a
  .dat/.tdat line is such a step, with the target as Delta f (an upper bound), and each trial ends
  with a line at the steps it ran and its best Delta f (the loss columns there: f(x_T) and the best
  loss; at a target's line: f* + the target). Runtimes cocopp reads at other Delta f are upper
  bounds, and its fixed-budget values are upper bounds of the best Delta f.
- Nor is the loss at the start recorded: a trial's first line (evaluation 1) carries COCO's
  infinity, 3e21, unless a target was met there (cocopp needs a line at the first evaluation).
- Targets below a landscape's float resolution are not written (the leaderboard scores them n/a).
"""
