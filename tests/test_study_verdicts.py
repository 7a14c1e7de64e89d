"""Every built-in study at size small gives its verdict: the published claims, measured on this CPU.

Minutes in all (each study is sized to about a minute on a 2-core CPU), so
they carry the ``studies`` marker: the README's test command runs them, and
``-m "not studies"`` leaves them out while iterating. The verdict asserted
is the one the study gives honestly at this size; a change that makes a
claim stop reproducing fails here.
"""

from __future__ import annotations

import pytest

from suite import study_api
from suite.verdict import Verdict

# The verdict each study gives at size small (seed 0, this suite's defaults).
EXPECTED = {
    "deep_linear_plateaus": "reproduced",
    "hard_small_networks": "reproduced",
    "ill_conditioning": "reproduced",
    "minibatch_noise": "reproduced",
    "penalties": "reproduced",
    # Seed 0 misses one of 13 intervals by 3e-4 (k = 32, dim 1): a 95% family-wise test that a true
    # claim fails in about 1.5% of seeds (measured over 200 seeds); kept, not re-seeded to pass.
    "random_restarts": "not reproduced",
    "saddles": "reproduced",
    "spin_glass": "reproduced",
    "stale_gradients": "reproduced",
    "vanishing_gradients": "reproduced",
}


@pytest.mark.studies
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_small_study_gives_its_verdict(name, tmp_path):
    run = study_api.run_study(name, size="small", out=tmp_path / name, progress=False)
    verdict = Verdict.from_json(run.verdict["verdict"])
    failed = [f"{c.quantity}: measured {c.measured}, theory {c.theory} ({c.tolerance})"
              for c in verdict.comparisons if not c.passed]
    assert verdict.status == EXPECTED[name], f"{verdict.summary} {verdict.notes} {failed}"
