"""The bars of issue 18 (on a CPU) and issue 7 (on a GPU), tested on ``speed.py``'s rows where the sizes match.

A bar is "met" when the median over rounds of its ratio (or fraction) is at
or above the threshold; the min–max over rounds is printed beside it.
"""

from __future__ import annotations

# (platform, landscape, values, restarts or None for any, contender, measure, threshold, what)
# measure "ratio": suite ÷ contender (its seconds over the suite's); "limit": the suite's fraction of the limit.
RASTRIGIN = ("rastrigin", {"dim": 1000})
NET = ("deep_net", {"depth": 8, "width": 256, "samples": 256})
BARS = (
    ("cpu", *RASTRIGIN, 1024, "@", "ratio", 3.0, "suite ÷ today's suite"),
    ("cpu", *RASTRIGIN, 1024, "torch.compile", "ratio", 1.3, "suite ÷ torch.compile"),
    ("cpu", *RASTRIGIN, 1024, "jax bare", "ratio", 0.97, "suite ÷ bare JAX (same math)"),
    ("cpu", "bowl", {"dim": 1000}, None, "@", "ratio", 0.95, "no slowdown ≥ 5 %: suite ÷ today's suite"),
    ("cpu", *NET, 64, "@", "ratio", 0.95, "no slowdown ≥ 5 %: suite ÷ today's suite"),
    ("cpu", *NET, 64, "torch eager", "ratio", 0.8, "suite ÷ torch eager"),
    ("gpu", *RASTRIGIN, 65536, "jax bare", "ratio", 0.9, "suite ÷ bare JAX (same math)"),
    ("gpu", *RASTRIGIN, 65536, "suite", "limit", 0.8, "suite's fraction of the bandwidth floor"),
    ("gpu", *RASTRIGIN, 65536, "torch.compile", "ratio", 1.3, "suite ÷ torch.compile"),
)


def bars_of(rows: list[dict], platform: str, against: str | None) -> list[dict]:
    """Every bar whose workload was measured on ``platform``: its median, range and verdict."""
    found = []
    for where, landscape, values, restarts, contender, measure, threshold, what in BARS:
        if where != platform:
            continue
        if contender == "@":
            if against is None:
                continue
            contender = f"suite @ {against}"
        mine = [r for r in rows if r["landscape"] == landscape and r["values"] == values
                and (restarts is None or r["restarts"] == restarts)]
        for workload in dict.fromkeys(r["workload"] for r in mine):
            row = next((r for r in mine if r["workload"] == workload and r["contender"] == contender), None)
            bar = {"bar": f"{workload}: {what} ≥ {threshold:g}", "threshold": threshold, "met": None,
                   "median": None, "min": None, "max": None}
            if row is not None and not row.get("error"):
                got = row["ratio"] if measure == "ratio" else row["limit_fraction"]
                bar |= {k: got[k] for k in ("median", "min", "max")} | {"met": got["median"] >= threshold}
            found.append(bar)
    return found


def print_bars(bars: list[dict]) -> None:
    if bars:
        print("\nThe issue's bars on this device (met when the median is at or above the bar):")
    for bar in bars:
        if bar["met"] is None:
            print(f"  {bar['bar']}: not measured")
        else:
            print(f"  {bar['bar']}: {'met' if bar['met'] else 'NOT MET'}, {bar['median']:.2f} "
                  f"[{bar['min']:.2f}–{bar['max']:.2f}]")
