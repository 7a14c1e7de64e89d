"""An entry's swept settings: which of its own hyperparameters vary, and the selected values as text."""

from __future__ import annotations

import numpy as np
import pandas as pd


def own_hyperparameters(cells: pd.DataFrame, entry: str, landscape: str | None = None) -> list[str]:
    """The ``p_opt_*`` columns that vary within the entry's own cells (on ``landscape`` if given).

    Hyperparameters of other optimizers (NaN in this entry's rows) and values
    the user fixed (the same in every cell) never vary, so they are not listed.
    """
    column = cells["entry"] if "entry" in cells else cells["optimizer"]
    same = cells[column == entry]
    if landscape is not None and "landscape_label" in same:
        same = same[same["landscape_label"] == landscape]
    return [c for c in same.columns if c.startswith("p_opt_") and same[c].nunique(dropna=True) > 1]


def setting_text(cells: pd.DataFrame, row: pd.Series, names: dict[str, str] | None = None) -> str:
    """The selected cell's values of its entry's own swept hyperparameters (``learning_rate=0.01*``).

    A * marks a value at the edge of the sweep (``at_edge``). ``names``
    shortens hyperparameter names for narrow tables (``{"learning_rate": "lr"}``).
    """
    names = names or {}
    edge = set(str(row.get("at_edge") or "").split(",")) - {""}
    parts = []
    for column in own_hyperparameters(cells, row["entry"], row.get("landscape_label")):
        name, value = column.removeprefix("p_opt_"), row[column]
        shown = f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)
        parts.append(f"{names.get(name, name)}={shown}" + ("*" if name in edge else ""))
    return " ".join(parts)
