"""Load, scaled down for CI: the nightly flow over 8 synthetic spokes completes in bounded memory.

bench/load.py at full size (8 spokes x 100,000 instances) gives the figures in
docs/reliability.md; here 8 x 1,000 instances run in a child process reporting to the test
session's Prefect server, and the flow process must stay under RSS_LIMIT.
"""

from __future__ import annotations

from prefect.settings import PREFECT_API_URL

from bench.load import build_hub, measure

SPOKES, INSTANCES = 8, 1_000
RSS_LIMIT = 1 << 30  # 1 GiB: twice the flow process's peak here (imports included)


def test_nightly_over_eight_synthetic_spokes_commits_every_spoke_under_the_rss_limit(tmp_path):
    config_file = build_hub(tmp_path, SPOKES, INSTANCES, seed=1)

    figures = measure(config_file, {"PREFECT_API_URL": PREFECT_API_URL.value()})

    spokes = figures["spokes"]
    assert len(spokes) == SPOKES
    assert {s["status"] for s in spokes.values()} == {"committed"}
    assert all(s["manifest_rows"] >= INSTANCES and s["cc_records"] > 0 for s in spokes.values())
    assert figures["flow_peak_rss"] < RSS_LIMIT, figures
