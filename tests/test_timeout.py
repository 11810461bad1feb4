"""The suite cannot hang: the project sets a per-test limit, and the tests' subprocess runner
kills a command that outlives its bound with everything it started."""

import sys
import time
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT, run_bounded


def test_the_project_sets_a_per_test_limit_of_minutes():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    limit = options["ini_options"]["timeout"]
    assert 0 < limit <= 600 and options["ini_options"]["timeout_method"] == "thread"


@pytest.mark.slow
def test_a_hung_command_is_killed_with_all_it_started(tmp_path):
    """The tests' subprocess runner kills a command that outlives its bound, and the processes
    it started (DVC -> stage): the test fails, the rest of the suite keeps its cores."""
    pid_file = tmp_path / "child.pid"
    code = ("import subprocess, sys, time, pathlib;"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']);"
            f"pathlib.Path({str(pid_file)!r}).write_text(str(child.pid)); time.sleep(600)")
    start = time.perf_counter()
    with pytest.raises(AssertionError, match="still running after 3 s, killed"):
        run_bounded([sys.executable, "-c", code], timeout=3)
    assert time.perf_counter() - start < 30
    child = int(pid_file.read_text())
    deadline = time.time() + 10
    while Path(f"/proc/{child}").exists() and time.time() < deadline:
        time.sleep(0.1)  # killed, then reaped by init
    stat = Path(f"/proc/{child}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie
