"""Draws a study's claim figure from its run folder as a PNG (the README's picture comes from here).

    python docs/study_figure.py reports/studies/small/ill_conditioning docs/ill_conditioning.png
"""

import sys

from suite import study
from suite.report.study import figure
from suite.verdict import Verdict


def main(run_dir: str, out: str, which: int = 0) -> None:
    record = study.load(run_dir)
    if record is None:
        sys.exit(f"{run_dir} has no study.json: run the study first (suite study run NAME)")
    plot = Verdict.from_json(record["verdict"]).plots[which]
    figure(plot).figure.savefig(out, dpi=160, bbox_inches="tight")
    print(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)
