"""Are two run folders' tables the same, apart from timing? A check for refactors.

    python benchmarks/compare_runs.py BEFORE_RUN AFTER_RUN [--rename old=new ...]

Prints one line per table: identical, or the first difference. Timing columns
(compile and run seconds, speed, bandwidth) differ between any two runs and
are left out; ``--rename`` maps a column renamed between the two versions
(``program=group`` for runs made before the column was renamed). Exits 1 when
a table differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

TIMING = ("compile_seconds", "run_seconds", "seconds_per_step", "updates_per_second", "copy_bandwidth",
          "floor_fraction", "diagnostics_seconds")


def compare(before: Path, after: Path, renames: dict[str, str]) -> bool:
    same = True
    for name in sorted(p.name for p in before.glob("*.parquet")):
        old = pd.read_parquet(before / name).rename(columns=renames)
        if not (after / name).is_file():
            print(f"{name}: missing from {after}")
            same = False
            continue
        new = pd.read_parquet(after / name)
        old, new = (t.drop(columns=[c for c in TIMING if c in t]) for t in (old, new))
        note = ""
        if list(old.columns) != list(new.columns):
            if set(old.columns) != set(new.columns):
                print(f"{name}: columns differ: {sorted(set(old.columns) ^ set(new.columns))}")
                same = False
                continue
            note, new = " (columns in another order)", new[old.columns]
        try:
            pd.testing.assert_frame_equal(old, new, check_exact=True)
            print(f"{name}: identical {old.shape}{note}")
        except AssertionError as exc:
            print(f"{name}: DIFFERS: {' '.join(str(exc).split())[:400]}")
            same = False
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--rename", action="append", default=[], metavar="OLD=NEW")
    args = parser.parse_args()
    renames = dict(r.split("=", 1) for r in args.rename)
    return 0 if compare(args.before, args.after, renames) else 1


if __name__ == "__main__":
    sys.exit(main())
