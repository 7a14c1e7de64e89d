"""Cells a report cannot read: failed rows in the cells table, each error saying why and how to run it again."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def with_unreadable(cells: pd.DataFrame, unreadable: dict[str, str], plan: dict, path: Path) -> pd.DataFrame:
    """``cells`` with a failed row for each cell whose files cannot be read, its error saying why."""
    planned = {c["cell_id"]: (i, c) for i, c in enumerate(plan.get("cells", []))}
    rows = []
    for cell_id, problem in unreadable.items():
        order, record = planned.get(cell_id, (len(planned), {}))
        landscape = record.get("landscape_label") or f"(cell {cell_id}, not in plan.json)"
        entry = record.get("entry") or record.get("optimizer_label") or cell_id
        row = {"cell_id": cell_id, "order": order, "landscape_label": landscape,
               "optimizer_label": record.get("optimizer_label") or entry, "entry": entry, "status": "failed",
               "error": f"unreadable: {problem}; suite run --resume {path} runs it again"}
        # The identity columns its landscape's and entry's other cells give.
        for key, column in (("landscape_label", "landscape"), ("entry", "optimizer"), ("entry", "wrappers")):
            if not cells.empty and key in cells and column in cells:
                same = cells.loc[cells[key] == row[key], column]
                if not same.empty:
                    row[column] = same.iloc[0]
        row.setdefault("optimizer", entry.split("(")[0].split("+")[0])
        rows.append(row)
    table = pd.concat([cells, pd.DataFrame(rows)], ignore_index=True) if not cells.empty else pd.DataFrame(rows)
    return table.sort_values("order", kind="stable").reset_index(drop=True) if "order" in table else table
