"""IOHprofiler's format: a ``.json`` per landscape and entry, ``.dat`` lines of ``evaluations raw_y``.

The layout is what IOHexperimenter's ``Analyzer`` logger writes (v2, the
``.json`` meta files; ``include/ioh/logger/analyzer.hpp``), and what
IOHanalyzer and ``iohinspector.DataManager.add_folder`` read::

    OUT/<entry>/IOHprofiler_f<n>_<landscape>.json
    OUT/<entry>/data_f<n>_<landscape>/IOHprofiler_f<n>_DIM<coordinates>.dat

One algorithm per entry, at the setting the leaderboard selected on each
landscape instance (the ``.json``'s ``algorithm.info`` names it and its cell);
one function per landscape setting, numbered in the run's order; one run per
restart, in restart order; instance i of the run is IOHprofiler's (and COCO's) instance i + 1.

Evaluations: IOHprofiler counts evaluations from 1 and starts a run at
evaluation 1 (``iohinspector`` splits runs there), while the suite counts
steps from 0 (step t evaluates the loss and gradient at x_t). So evaluation
e is step e − 1: a target first met at step t is met at evaluation t + 1, and
a restart of T steps made T + 1 evaluations (``evals``). Runtimes read from
the export are the run's step counts plus one; its ERT in evaluations is the
suite's ERT plus (restarts / successes).

``raw_y`` is Δf = f − f* (the f* the run measured from, 0 where unknown), as
IOHexperimenter writes BBOB's ``raw_y`` (without f*); minimization. The run
keeps no loss trace, only the first step at which each target was met, so a
restart's lines are: at each such step, the hardest target met there (Δf was
at most that); at evaluation 1 ``None`` (IOHprofiler's "no value") unless a
target was met at the start; at its last evaluation, its best Δf (not below
the float resolution at an exact f*, :func:`suite.metrics.resolution`, where
rounding decides; ``inf`` when no loss was finite). Fixed-target runtimes at
the run's targets are therefore exact; at a value between two targets they
are those of the harder one (an upper bound); fixed-budget values between
lines are upper bounds.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from suite.export.common import Function, Selected, Trials, claim_out, improvements, select, staged
from suite.metrics import SELECTION_RULE

FORMAT = "ioh"
# The IOHexperimenter version whose Analyzer output this mirrors (checked against ioh 0.4.2's own files).
IOH_VERSION = "0.4.2"
SUITE_NAME = "landscape-suite"
HEADER = "evaluations raw_y"
NO_VALUE = "None"  # what IOHexperimenter writes where raw_y has no value; readers take it as missing
_RUNS = "\x00runs"  # stands for a scenario's runs until they are written one a line


def write(run_dir: Path, out: Path) -> Path:
    """Writes the run in ``run_dir`` as IOHprofiler data under ``out``; returns ``out``.

    ``out`` may be new, empty, or an earlier ``ioh`` export of suite (whose
    folders this one replaces); anything else is refused in one line.
    """
    earlier = claim_out(out, FORMAT)
    chosen = select(run_dir)
    with staged(out, FORMAT, run_dir, earlier) as tmp:
        for entry, folder in _folders(sorted({t.entry for t in chosen.trials})).items():
            for function in chosen.functions:
                mine = [t for t in chosen.trials if t.entry == entry and t.function is function]
                if mine:
                    _write_function(tmp / folder, entry, function, mine, chosen)
    return out


def runs(trials: Trials, targets: np.ndarray) -> list[list[tuple[int, float | None]]]:
    """Each restart's ``(evaluation, raw_y)`` lines, as :func:`write` puts them in the ``.dat`` file.

    ``raw_y`` is ``None`` where the run has no value (evaluation 1 before any
    target was met); see the module's docstring for what each line means.
    """
    function = trials.function
    out = []
    for restart in range(len(trials.steps)):
        lines: list[tuple[int, float | None]] = [(step + 1, bound) for step, bound in
                                                  improvements(trials, restart, targets)]
        if not lines or lines[0][0] != 1:
            lines.insert(0, (1, None))
        last = _last_value(trials, restart, targets, function)
        finest = lines[-1][1]
        value = last if finest is None else min(last, finest)
        evals = int(trials.steps[restart]) + 1
        if lines[-1][0] == evals:
            lines[-1] = (evals, value)
        else:
            lines.append((evals, value))
        out.append(lines)
    return out


def _last_value(trials: Trials, restart: int, targets: np.ndarray, function: Function) -> float:
    """The restart's best Δf, never below the float resolution at an exact f*, nor under an uncredited target.

    Below the resolution at f* rounding, not the optimizer, decides (the
    leaderboard's rule), and a Δf of 0 would leave log-scaled readers (the
    default of iohinspector and IOHanalyzer) without a range: there it is the
    resolution. Where the best Δf lies under a target whose hit the export
    leaves out (one below the resolution, or one the run's own precision
    rounded the other way), a reader would count it met at the last
    evaluation: there it is the next float above that target.
    """
    best = float(trials.best[restart])
    if not math.isfinite(best):
        return math.inf
    value = best - trials.f_opt
    if function.f_opt_kind == "exact":
        value = max(value, function.resolution)
    uncredited = np.flatnonzero(np.isnan(trials.hits[restart]))
    if uncredited.size:
        coarsest = float(targets[uncredited[0]])
        if value <= coarsest:
            value = math.nextafter(coarsest, math.inf)
    return value


def _write_function(folder: Path, entry: str, function: Function, trials: list[Trials],
                    chosen: Selected) -> None:
    """One entry on one landscape setting: its ``.json`` and its ``.dat`` (every instance's restarts)."""
    name = _safe(function.label.split("(", 1)[0]) or "landscape"
    data_dir = f"data_f{function.number}_{name}"
    dat_name = f"IOHprofiler_f{function.number}_DIM{function.coordinates}.dat"
    (folder / data_dir).mkdir(parents=True, exist_ok=True)
    chunks, records = [], []
    for part in trials:
        for lines in runs(part, chosen.targets):
            chunks.append(HEADER + "\n" + "".join(f"{e} {_number(y)}\n" for e, y in lines))
            evals, best = lines[-1]
            records.append({"instance": part.instance + 1, "evals": evals,
                            "best": {"evals": evals, "y": best if best is not None and math.isfinite(best)
                                     else None, "x": []}})
    (folder / data_dir / dat_name).write_text("".join(chunks))
    meta = {
        "version": IOH_VERSION,
        "suite": SUITE_NAME,
        "function_id": function.number,
        "function_name": function.label,
        "maximization": False,
        "algorithm": {"name": entry, "info": _info(entry, trials)},
        "experiment_attributes": [
            {"f_opt": _f_opts(trials)},
            {"f_opt_kind": function.f_opt_kind},
        ],
        "attributes": HEADER.split(),
        "scenarios": [{"dimension": function.coordinates, "path": f"{data_dir}/{dat_name}", "runs": _RUNS}],
    }
    # One run a line, as IOHexperimenter writes them (and json's C encoder, ~10x faster than indenting).
    runs_text = "[\n" + ",\n".join("    " + json.dumps(r, allow_nan=False) for r in records) + "\n   ]"
    text = json.dumps(meta, indent=1, allow_nan=False).replace(json.dumps(_RUNS), runs_text, 1)
    (folder / f"IOHprofiler_f{function.number}_{name}.json").write_text(text + "\n")


def _f_opts(trials: list[Trials]) -> str:
    """f*, or each instance's where they differ (logistic's data, pspin's couplings)."""
    by_instance = dict(sorted({t.instance + 1: float(t.f_opt) for t in trials}.items()))
    if len(set(by_instance.values())) <= 1:
        return repr(next(iter(by_instance.values()), 0.0))
    return "; ".join(f"instance {i}: {v!r}" for i, v in by_instance.items())


def _info(entry: str, trials: list[Trials]) -> str:
    """``algorithm.info``: the selected setting on each instance, the rule that selected it, the units."""
    chosen = "; ".join(f"instance {t.instance + 1}: {t.setting or 'its one setting'} (cell {t.cell_id})"
                       for t in trials)
    edge = " (* marks a value at the edge of its sweep)" if "*" in chosen else ""
    return (f"{entry} at the setting the suite's leaderboard selected per landscape instance: {chosen}{edge}. "
            f"Selection: {SELECTION_RULE}. Evaluation e is optimizer step e-1; raw_y is f - f* (f* is the "
            f"experiment attribute f_opt): the target first met at that evaluation (an upper bound), and the "
            f"best at the last evaluation.")


def _number(value: float | None) -> str:
    """A ``raw_y`` as text: exact (shortest round trip), ``inf``, or IOHprofiler's ``None``."""
    if value is None:
        return NO_VALUE
    return "inf" if value == math.inf else repr(float(value))


def _safe(text: str) -> str:
    """``text`` with every character but letters, digits, ``.``, ``_``, ``=``, ``+``, ``-`` made ``_``."""
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", text).strip("_.")


def _folders(entries: list[str]) -> dict[str, str]:
    """A distinct folder name for each entry (``adam``, ``adam+stale_tau=8``), numbered where two coincide."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for entry in entries:
        base = _safe(entry) or "entry"
        name, k = base, 2
        while name.lower() in used:  # case-insensitive file systems
            name, k = f"{base}-{k}", k + 1
        used.add(name.lower())
        out[entry] = name
    return out
