"""Text shared by the report and the site: counts of things, percentages, ERTs, p-values, shares of restarts."""

from __future__ import annotations

import math

from suite import metrics
from suite.report.data import CONFIDENT, Report


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun in the number it takes: ``1 entry``, ``2 entries``, ``0 landscapes``.

    Args:
      n: how many.
      noun: the singular (``"landscape"``, ``"entry"``, ``"optimizer setting"``).
      plural: the plural where it is not the noun + ``s`` (``es`` after s, x, ch, sh; ``y`` →
        ``ies`` after a consonant).
    """
    if n == 1:
        return f"{n} {noun}"
    if plural is None:
        plural = (noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou"
                  else noun + "es" if noun.endswith(("s", "x", "ch", "sh")) else noun + "s")
    return f"{n} {plural}"


_count = count


def config_summary(text: str) -> str:
    """The line that stands for a folded config.toml: how long it is, and how many of what it sets."""
    import tomllib

    lines = count(len(text.splitlines()), "line")
    try:
        config = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, TypeError):
        return f"config.toml, as the run resolved it ({lines})"
    parts = [f"seed {config['seed']}"] if "seed" in config else []
    for key, noun in (("targets", "target"), ("optimizer", "optimizer setting"), ("landscape", "landscape")):
        if isinstance(config.get(key), list):
            parts.append(count(len(config[key]), noun))
    return f"config.toml, as the run resolved it ({lines}" + (": " + ", ".join(parts) if parts else "") + ")"


def top_place(ranks, top_share: float) -> str:
    """How sure a leaderboard's first place is, as the report's headline says it.

    Args:
      ranks: the overall ranks (1 is first).
      top_share: the share of bootstrap replicates in which the top entry ranks first.

    Returns:
      ``"tied"`` (several entries share first place), ``"uncertain"`` (the top
      entry stays first in fewer than :data:`~suite.report.data.CONFIDENT` of
      the replicates: another seed could change the winner), or ``""``.
    """
    ranks = list(ranks)
    if sum(1 for r in ranks if r == 1) > 1:
        return "tied"
    return "uncertain" if ranks and float(top_share) < CONFIDENT else ""


def _ert_text(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.0f}"


def _pct(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.0%}"


_p_text = metrics.p_text


def _share(report: Report, landscape: str, label: str, value) -> str:
    """A share of restarts at a target, or 'below resolution' when float rounding decides there."""
    if report.below_resolution(landscape, label):
        return "below resolution"
    return _pct(float(value))
