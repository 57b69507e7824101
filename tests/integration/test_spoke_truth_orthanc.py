"""The spoke-truth oracle over a real Orthanc (issue 15): Orthanc's own REST operations, night
after night, pulled by the hub and judged by the files Orthanc holds afterwards.

Each night must record exactly the cc records the operations imply, reconciling again must
record nothing (DESIGN §4 rule 1), and every study Orthanc holds must come back from
`spokesync retrieve` equal to Orthanc's files object by object (DESIGN §8).
"""

from __future__ import annotations

import pytest

from tests.truth import pacs
from tests.truth.hub import Hub
from tests.truth.scenario import messy_spoke
from tests.truth.spoke import FileSpoke

pytestmark = pytest.mark.integration
SEQUENCES = {
    "split, then a presentation state, then a deleted instance": (
        "dicomweb", [["split"], ["new_pr"], ["delete_instance"]]),
    "merge, then modify without keep": ("dicomweb", [["merge"], ["modify_without_keep"]]),
    "a secondary capture and a deleted series, then a split, over DIMSE": (
        "dimse", [["new_sc", "delete_series"], ["split"]]),
}  # fmt: skip


@pytest.fixture(scope="module")
def messy_files(tmp_path_factory):
    """The messy spoke's files (tests/truth/scenario.py), to load into Orthanc."""
    spoke = FileSpoke(tmp_path_factory.mktemp("orthanc-spoke") / "spoke")
    messy_spoke(spoke)
    return spoke.paths()


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_an_orthanc_spoke_changed_night_after_night_is_held_as_orthanc_holds_it(
    orthanc, messy_files, tmp_path, name
):
    protocol, nights = SEQUENCES[name]
    hub = Hub(tmp_path)

    done = [pacs.start(hub, orthanc, messy_files, protocol)]
    done += [pacs.run_night(hub, orthanc, operations) for operations in nights]

    problems = [f"night {n} {night.operations}: {p}"
                for n, night in enumerate(done) for p in night.problems()]  # fmt: skip
    assert problems == [], "\n".join(problems)
