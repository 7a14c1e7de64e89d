"""gpu.sh's one table: every part's numbers beside the H100 anchors and the issue-7 bars.

Reads what ``benchmarks/gpu.sh`` left in its folder (``NAME.exit``,
``NAME.cmd``, ``NAME.txt`` per part; JSON from ``speed.py --json`` and
``gpu_default_run.py``; the printed lines of ``diagnostics.py`` and
``pspin.py``) and prints one row per measurement. A part that failed, timed
out or left no output is a row saying so, never a crash. The anchors were
measured earlier on an H100; the bars are issue 7's, tested by ``speed.py``
(``speed_bars.py``) when the sizes are the GPU's. Usage::

    python benchmarks/gpu_table.py /tmp/suite-gpu
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

PARTS = ("speed_rastrigin", "speed_nets", "default_run", "diagnostics", "pspin")
ANCHORS = {  # H100, measured earlier: (workload landscape, contender) -> anchor text
    ("rastrigin", "jax bare"): "7.68e10 updates/s = 83 % of the 24 B/update floor",
    ("rastrigin", "torch.compile"): "6.02e10 updates/s",
    ("deep_net", "suite"): "sigmoid MLP 75 TFLOP/s",
}
DIAGNOSTICS_BUDGET = 0.10  # diagnostics.py's own budget at the default length


def part_status(folder: Path, part: str) -> str | None:
    """None when the part ran and exited 0; else why not."""
    exit_file = folder / f"{part}.exit"
    if not exit_file.is_file():
        return "did not run"
    code, seconds = (exit_file.read_text().split() + ["?", "?"])[:2]
    if code == "0":
        return None
    why = "timed out" if code in ("124", "137") else "failed"
    return f"{why} (exit {code} after {seconds} s)"


def speed_rows(data: dict) -> list[tuple]:
    rows, seen = [], {(row["landscape"], row["contender"]) for row in data["rows"]}
    for (landscape, contender), anchor in ANCHORS.items():  # an anchor with no row of its own says why
        workloads = [row["workload"] for row in data["rows"] if row["landscape"] == landscape]
        if workloads and (landscape, contender) not in seen:
            rows.append((f"{workloads[0]}: {contender}", "not measured (--no-compile, or no PyTorch)", anchor, "—"))
    for row in data["rows"]:
        name = f"{row['workload']}: {row['contender']}"
        if row.get("error"):
            rows.append((name, f"failed: {row['error'][:60]}", "", "FAILED"))
            continue
        rate = f"{row['rate']:.3g} {row['unit']}"
        if row.get("gflops"):
            rate += f", {row['gflops'] / 1e3:.3g} TFLOP/s"
        ratio = row["ratio"]
        value = (f"{rate}; {row['limit_fraction']['median']:.0%} of limit; suite ÷ it "
                 f"{ratio['median']:.2f} [{ratio['min']:.2f}–{ratio['max']:.2f}]")
        rows.append((name, value, ANCHORS.get((row["landscape"], row["contender"]), ""), ""))
    for bar in data.get("bars", []):
        if bar["met"] is None:
            rows.append((f"bar: {bar['bar']}", "not measured", "issue 7", "—"))
        else:
            rows.append((f"bar: {bar['bar']}", f"{bar['median']:.2f} [{bar['min']:.2f}–{bar['max']:.2f}]",
                         "issue 7", "met" if bar["met"] else "NOT MET"))
    if not data.get("bars"):
        rows.append(("bars (issue 7)", f"not applicable on {data.get('platform')} at these sizes "
                     "(they need a GPU at 65,536 restarts × d 1,000)", "", "—"))
    return rows


def default_run_rows(data: dict) -> list[tuple]:
    cold, warm = data["cold"], data["warm"]
    what = " ".join(data.get("extra", [])) or "the default benchmark"
    saved = cold["compile s"] - warm["compile s"]
    return [
        (f"suite run ({what}): wall", f"cold {cold['wall s']:.1f} s, warm {warm['wall s']:.1f} s "
         f"(run {cold['run s']:.1f} s; peak RSS {cold['peak RSS GiB']:.2f} GiB)", "", ""),
        ("compile cache (SUITE_COMPILE_CACHE)", f"compile cold {cold['compile s']:.1f} s, warm "
         f"{warm['compile s']:.1f} s: saved {saved / max(cold['compile s'], 1e-9):.0%}", "", ""),
    ]


def diagnostics_rows(text: str) -> list[tuple]:
    measured = re.search(r"overhead measured over (\d+) steps: (-?[\d.]+)%", text)
    default = re.search(r"overhead at the default length \((\d+) steps[^)]*\): (-?[\d.]+)%", text)
    if not (measured and default):
        return [("diagnostics overhead", "output not understood", "", "FAILED")]
    # The budget is for a run of the default length: measured there with --steps 1000, else scaled to it.
    share = float(default.group(2)) / 100
    verdict = "met" if share <= DIAGNOSTICS_BUDGET else "NOT MET"
    return [(f"diagnostics overhead over {measured.group(1)} steps", f"{float(measured.group(2)):.1f}%; at the "
             f"default length ({default.group(1)} steps): {share:.1%}", f"budget {DIAGNOSTICS_BUDGET:.0%}", verdict)]


def pspin_rows(text: str) -> list[tuple]:
    pattern = re.compile(r"^\s*(\d+)\s+(suite|plain)\s+([\d.]+)\s+(?:([\d.]+)\s+)?(\S+)\s+(\S+)\s+(\S+)\s*$")
    found = [m.groups() for m in map(pattern.match, text.splitlines()) if m]
    failed = re.findall(r"^\s*(\d+)\s+(suite|plain) failed: (.*)$", text, re.M)
    rows = []
    for n, impl, seconds, ratio, temp, cube, peak in found:
        rows.append((f"p-spin N = {n}, {impl}", f"{float(seconds):.4f} s/step"
                     + (f", plain ÷ suite {ratio}" if ratio else "")
                     + f"; XLA temp {temp} GiB (R×N³ {cube}); peak {peak} GiB", "", ""))
    rows += [(f"p-spin N = {n}, {impl}", f"failed: {why[:60]}", "", "FAILED") for n, impl, why in failed]
    return rows or [("p-spin", "output not understood", "", "FAILED")]


def table(folder: Path) -> tuple[list[tuple], int]:
    """The rows, and how many parts failed."""
    devices = (folder / "devices.txt").read_text().strip() if (folder / "devices.txt").is_file() else "?"
    rows, failures = [("device", " | ".join(devices.splitlines()), "H100 (anchors)", "")], 0
    readers = {"speed_rastrigin": ("speed_rastrigin.json", json.loads, speed_rows),
               "speed_nets": ("speed_nets.json", json.loads, speed_rows),
               "default_run": ("default_run.json", json.loads, default_run_rows),
               "diagnostics": ("diagnostics.txt", str, diagnostics_rows),
               "pspin": ("pspin.txt", str, pspin_rows)}
    for part in PARTS:
        file, load, rows_of = readers[part]
        status = part_status(folder, part)
        if status is None and not (folder / file).is_file():
            status = f"left no {file}"
        if status is None:
            try:
                mine = rows_of(load((folder / file).read_text()))
            except (ValueError, KeyError, TypeError) as error:
                mine = [(part, f"output not understood ({type(error).__name__}: {error})"[:100], "", "FAILED")]
        else:
            mine = [(part, f"{status}; see {folder / (part + '.txt')}", "", "FAILED")]
        failures += any(row[3] == "FAILED" for row in mine)
        rows += mine
    return rows, failures


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--tiny"]
    tiny = "--tiny" in sys.argv[1:]
    folder = Path(args[0] if args else "/tmp/suite-gpu")
    rows, failures = table(folder)
    if tiny:  # a check that every part runs: met / not met would judge numbers that mean nothing
        rows = [(*row[:3], row[3] if row[3] == "FAILED" else ("—" if row[3] else "")) for row in rows]
        print("tiny sizes (gpu.sh --tiny): every part ran unless a row says it failed; the numbers measure nothing, "
              "so no verdicts")
    widths = [min(max(len(r[i]) for r in rows), limit) for i, limit in enumerate((62, 110, 50, 8))]
    header = ("measurement", "value", "H100 anchor / bar", "verdict")
    print("\n" + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"\nparts failed: {failures} of {len(PARTS)}")
    print("reproduce a part (from the repository root):")
    for part in PARTS:
        command = folder / f"{part}.cmd"
        print(f"  {part}: {command.read_text().strip() if command.is_file() else '(did not run)'}")


if __name__ == "__main__":
    main()
