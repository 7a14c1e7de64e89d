"""The terminal: the leaderboard printed after a run, progress bars, warnings.

Every string that comes from a plugin, a config or a file is printed
literally (``markup=False`` or ``rich.text.Text``): a docstring holding
``[/]`` or ``E[x]`` is text, never rich markup.
"""

from __future__ import annotations

import math

from rich.text import Text

from suite.errors import UsageError
from suite.runner import Progress


def printable(text) -> str:
    """``text`` with control characters (an ESC that would restyle the terminal, a bell) shown as ``\\xNN``."""
    return "".join(c if c in "\n\t" or (ord(c) >= 32 and not 0x7F <= ord(c) < 0xA0) else f"\\x{ord(c):02x}"
                   for c in str(text))


def print_warnings(console, warnings) -> None:
    """Each warning on its own line, its text printed literally."""
    for warning in warnings:
        console.print(Text.assemble(("warning: ", "yellow"), printable(warning)), highlight=False, soft_wrap=True)


def print_leaderboard(tables: dict, config, cache_dir=None) -> None:
    """The leaderboard of a finished run on the terminal: ``tables`` has ``cells`` and ``restarts``."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    import pandas as pd

    from suite.metrics import SELECTION_RULE, TIE_LEVEL, leaderboard, p_text, target_label

    cells, restarts = tables["cells"], tables["restarts"]
    if cells.empty or not (cells["status"] == "ok").any():
        return
    hardest = target_label(config.targets[-1])
    board = leaderboard(cells, restarts)
    if board.empty:
        return
    console = Console()
    if not console.is_terminal:  # a file or a pipe has no width: keep the table whole
        console = Console(width=160)
    mode = ("fixed-target mode: a restart stops at the last target; final loss is the loss there"
            if config.stop_at_target else "final loss is f(x_T), every restart runs every step")
    console.print(Text.assemble(("Conditions", "bold"), f": {mode}; {config.precision}; tuning {config.tuning}"),
                  highlight=False)
    console.print(Text.assemble(("Leaderboard", "bold"), ": success means Δf = f − f* ≤ the target, reached and "
                                f"still held at the last step; {SELECTION_RULE}. Every setting is kept in "
                                "cells.parquet."), highlight=False)
    for landscape, rows in board.groupby("landscape_label", sort=False):
        label = str(rows["rank_target"].iloc[0])
        title = landscape
        if rows["f_opt_kind"].iloc[0] == "reference":
            title += (f"  (f* = {rows['f_opt'].iloc[0]:g} is a reference value, not this "
                      f"instance's proven minimum: Δf can go below 0)")
        # Labels and values come from plugins and configs: Text, never markup.
        table = Table(title=Text(printable(title)), title_justify="left", title_style="bold",
                      box=box.SIMPLE_HEAD, pad_edge=False)
        for column in ("#", "optimizer", "setting", f"success ≤{label}", "relapsed", "ERT", "p vs lead",
                       "tried", "median f", "best f", "div.", "µs/step"):
            # Names are never cut: a narrow terminal folds the other columns instead.
            is_entry = column == "optimizer"
            table.add_column(Text(column), justify="left" if column in ("optimizer", "setting") else "right",
                             min_width=int(rows["entry"].str.len().max()) if is_entry else None,
                             no_wrap=is_entry, overflow="fold")
        below = float(label) < float(rows["resolution"].iloc[0])
        for _, row in rows.iterrows():
            ert_value = float(row[f"ert_{label}"])
            p_value = float(row["p_value"])
            table.add_row(*(Text(printable(value)) for value in (
                str(row["rank"]), row["entry"], _swept(cells, row),
                "below resolution" if below else f"{row[f'success_{label}']:.0%}",
                f"{row['relapse_rate']:.0%}",
                "–" if below else "∞" if math.isinf(ert_value) else f"{ert_value:.0f}",
                p_text(p_value),
                str(int(row["settings_tried"])),
                f"{row['median_final_loss']:.2g}", f"{row['best_loss']:.2g}",
                f"{row['divergence_rate']:.0%}", f"{row['seconds_per_step'] * 1e6:.1f}",
            )))
        console.print(table, highlight=False)
        if bool(rows["below_resolution"].iloc[0]):
            console.print(f"  below resolution: Δf ≤ {hardest} is finer than float rounding at f* "
                          f"(≈ {rows['resolution'].iloc[0]:.2g}); ranked at Δf ≤ {label}. To score it, run with "
                          f"--precision float64 or write the landscape relative to f*", markup=False,
                          highlight=False)
        elif bool(rows["unsolved"].iloc[0]):
            why = ("" if bool(rows["held_half"].iloc[0]) else
                   " (no setting held any target on half its restarts: mostly a final-loss comparison)")
            console.print(f"  unsolved at {hardest}: no setting held it; ranked at Δf ≤ {label}{why}",
                          markup=False, highlight=False)
        warning = next((str(w) for w in rows.get("warning", pd.Series(dtype=str)).fillna("") if w), "")
        if warning:
            console.print(Text.assemble("  ", ("warning:", "bold red"), f" {warning}"), highlight=False)
    console.print(f"equal # means tied: p vs lead is the paired sign test against the first entry of the tie "
                  f"group above (or its own), p ≥ {TIE_LEVEL:g} joins it; relapsed = share that reached a target "
                  f"and ended above it; ERT counts first hits; tried = settings of the entry on the landscape "
                  f"(its tuning budget)", markup=False, highlight=False)
    if board["at_edge"].astype(bool).any():
        console.print("* the best value is at the edge of the sweep: the optimum may lie outside it",
                      markup=False, highlight=False)
    programs = cells[cells["status"] == "ok"].drop_duplicates("group")
    total_compile, total_run = programs["compile_seconds"].sum(), programs["run_seconds"].sum()
    cache = f"; compilation cache {cache_dir}" if cache_dir else "; compilation cache off"
    console.print(f"compile {total_compile:.1f} s, run {total_run:.1f} s "
                  f"(ERT in steps; µs/step is one cell's share of its program{cache})", markup=False,
                  highlight=False)


def _swept(cells, row) -> str:
    """The entry's own hyperparameters that vary across its settings, with this row's values."""
    from suite.metrics import setting_text

    ok = cells[cells["status"] == "ok"]
    return setting_text(ok, row, names={"learning_rate": "lr"})  # the one name every table shows; keep it narrow


class RichProgress(Progress):
    """A :class:`suite.runner.Progress` drawn as a rich progress bar on stderr."""

    def __init__(self, console=None, enabled: bool = True):
        from rich.console import Console
        from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        self._console = console = console or Console(stderr=True)
        self._progress = Bar(
            TextColumn("{task.description}", markup=False), BarColumn(), TaskProgressColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console,
            disable=not enabled, transient=False)
        self._task = None

    def __enter__(self):
        self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self._progress.__exit__(*exc)

    def announce(self, text: str) -> None:
        self._console.print(text, markup=False, highlight=False, soft_wrap=True)  # one line, whatever the width

    def warn(self, text: str) -> None:
        print_warnings(self._console, [text])

    def start(self, total: float) -> None:
        self._task = self._progress.add_task("cells", total=total)

    def describe(self, text: str) -> None:
        self._progress.update(self._task, description=text)

    def advance(self, amount: float) -> None:
        self._progress.advance(self._task, amount)


def progress_for(progress: bool | Progress) -> Progress:
    """The progress to report to: the caller's own, a rich bar on stderr, or nothing."""
    if isinstance(progress, Progress):
        return progress
    if not isinstance(progress, bool):
        raise UsageError(f"progress must be True, False or a suite.runner.Progress instance; got {progress!r}")
    if not progress:
        return _Quiet()
    return RichProgress()


class _Quiet(Progress):
    """No output; a plugin that failed to load is still a Python warning."""

    def warn(self, text: str) -> None:
        import warnings

        warnings.warn(text, RuntimeWarning, stacklevel=2)
