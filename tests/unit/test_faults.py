"""Kill points: named, off unless the environment asks, and fatal exactly where asked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spokesync.catalog.faults import KILL_ENV, KILL_POINTS, MARK_ENV, kill_point, parse_kill_at

ROOT = Path(__file__).resolve().parents[2]


def test_kill_at_names_a_point_and_optionally_its_occurrence():
    assert parse_kill_at("tar-renamed") == ("tar-renamed", 1)
    assert parse_kill_at("tar-renamed,3") == ("tar-renamed", 3)
    assert parse_kill_at("") is None and parse_kill_at(None) is None


@pytest.mark.parametrize("value", ["tar-renamd", "tar-renamed,0", "tar-renamed,x"])
def test_a_misspelt_kill_request_is_refused_with_the_known_points(value):
    with pytest.raises(ValueError, match=KILL_ENV):
        parse_kill_at(value)


def test_every_point_passes_quietly_when_another_point_is_asked_for(monkeypatch):
    monkeypatch.setenv(KILL_ENV, "reports-written")
    for point in KILL_POINTS:
        if point != "reports-written":
            kill_point(point)


def test_a_call_at_an_unnamed_point_is_a_programming_error():
    with pytest.raises(ValueError, match="not a kill point"):
        kill_point("somewhere")


def test_the_process_dies_by_sigkill_at_the_asked_occurrence_and_marks_it(tmp_path):
    mark = tmp_path / "mark"
    pid = os.fork()
    if pid == 0:  # the child counts two passes, dies on the third
        os.environ.update({KILL_ENV: "object-read,3", MARK_ENV: str(mark)})
        for _ in range(5):
            kill_point("object-read")
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert mark.read_text() == "object-read,3\n"


def test_a_pause_point_says_it_is_ready_and_holds_the_process_there_until_it_is_signalled(
    tmp_path,
):
    from spokesync.catalog.faults import PAUSE_ENV, READY_ENV

    ready, after = tmp_path / "ready", tmp_path / "after"
    # A fresh process passes the first staged object and pauses at the second.
    code = (
        "import pathlib, sys; from catalog.faults import kill_point\n"
        "kill_point('object-staged'); kill_point('object-staged')\n"
        "pathlib.Path(sys.argv[1]).touch()\n"
    )
    env = os.environ | {PAUSE_ENV: "object-staged,2", READY_ENV: str(ready)}
    child = subprocess.Popen([sys.executable, "-c", code, str(after)], env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while not ready.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # a child that did not pause would have passed on by now
    still_running = child.poll() is None
    child.kill()
    child.wait(timeout=30)

    assert still_running and ready.read_text() == "object-staged\n"
    assert not after.exists()


def test_a_commit_counts_as_done_only_once_its_committed_point_is_passed():
    from spokesync.catalog.faults import begin_commit, end_commit, progress

    begin_commit("north-20261201T020000-abcdef")
    kill_point("before-commit")
    assert progress.commit_sent and progress.committed[-1:] != ["north-20261201T020000-abcdef"]
    kill_point("committed")
    assert progress.committed[-1] == "north-20261201T020000-abcdef"
    assert progress.committing is None and not progress.commit_sent
    end_commit()
