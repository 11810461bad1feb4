"""The suite cannot hang: every test runs under pytest-timeout's per-test limit, and a test that
hangs fails within it, with its stack, instead of running to CI's limit."""

import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT, run_bounded

HANGS = '''
import time

def test_that_never_returns():
    time.sleep(3600)
'''


def test_the_project_sets_a_per_test_limit_of_minutes():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    limit = options["ini_options"]["timeout"]
    assert 0 < limit <= 600 and options["ini_options"]["timeout_method"] == "thread"


@pytest.mark.slow
def test_a_hanging_test_fails_within_the_limit_with_its_stack(tmp_path):
    """The project's own pytest settings, the limit lowered to 3 s for the demonstration."""
    (tmp_path / "test_hangs.py").write_text(HANGS)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir",
         str(tmp_path), "-p", "no:cacheprovider", "-o", "timeout=3", str(tmp_path)],
        capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - start
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "Timeout" in output and "test_that_never_returns" in output, output
    assert "time.sleep(3600)" in output  # the stack says where it hung
    assert elapsed < 60


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
