import json
import os
import subprocess
import sys

import pytest

from reslab.core.files import write_metrics, write_table
from reslab.core.track import Tracker, wandb_dir, wandb_mode


def test_metrics_must_be_numeric(tmp_path):
    write_metrics(tmp_path / "m.json", {"a": 1, "b": {"c": 2.5}})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 1, "b": {"c": 2.5}}
    with pytest.raises(TypeError, match=r"b.c"):
        write_metrics(tmp_path / "bad.json", {"a": 1, "b": {"c": "x"}})
    assert not (tmp_path / "bad.json").exists()


def test_table_csv(tmp_path):
    write_table(tmp_path / "h.csv", [{"epoch": 1, "val_acc": 50.0}, {"epoch": 2, "val_acc": 60.0}])
    assert (tmp_path / "h.csv").read_text().splitlines() == ["epoch,val_acc", "1,50", "2,60"]


def test_a_disabled_tracker_never_imports_wandb(monkeypatch):
    """wandb off, by param or by WANDB_MODE=disabled, costs a stage nothing: wandb is not even
    imported (here any import of it fails)."""
    monkeypatch.setitem(sys.modules, "wandb", None)
    for enabled, mode in ((False, "offline"), (True, "disabled")):
        monkeypatch.setenv("WANDB_MODE", mode)
        t = Tracker(enabled, "p", "n", "g", {"lr": 1.0})
        t.log({"x": 1})
        t.finish({"y": 2})


@pytest.mark.slow
def test_offline_run_from_environment_and_no_secrets(tmp_path, monkeypatch):
    """The mode comes from WANDB_MODE; the run holds the params, never an environment secret."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_API_KEY", "sk-test-secret-0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("MY_TOKEN", "tok-very-secret-value")
    t = Tracker(True, "reslab-test", "run", "group", {"train": {"lr": 0.000123456789}})
    assert t.run is not None and t.run.settings.mode == "offline"
    t.log({"epoch": 1, "val_acc": 12.5})
    t.finish({"test_acc": 10.0})
    files = [p for p in (tmp_path / "wandb").rglob("*") if p.is_file()]
    assert files, "an offline run directory was written"
    blob = b"".join(p.read_bytes() for p in files)
    assert b"0.000123456789" in blob or b"1.23456789e-04" in blob, "the params are logged"
    assert b"sk-test-secret" not in blob and b"tok-very-secret-value" not in blob


def test_wandb_dir_is_the_project_not_the_experiment_copy(tmp_path, monkeypatch):
    """DVC sets DVC_ROOT to the original repository for a queued or temporary experiment, whose
    working directory is a copy DVC deletes: the runs go to the repository."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WANDB_DIR", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    assert wandb_dir() == tmp_path
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "repo"))
    assert wandb_dir() == tmp_path / "repo"
    monkeypatch.setenv("WANDB_DIR", "runs")  # relative: from the project, not the copy
    assert wandb_dir() == tmp_path / "repo" / "runs"
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "elsewhere"))
    assert wandb_dir() == tmp_path / "elsewhere"


def write_settings(path, **values):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[default]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()))


def test_wandb_mode_env_then_settings_then_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))
    project = tmp_path / "project"
    assert wandb_mode(project) == "offline"  # nobody said anything
    write_settings(tmp_path / "config" / "settings", mode="online")
    assert wandb_mode(project) == "online"  # the global setting
    write_settings(project / "wandb" / "settings", mode="offline")
    assert wandb_mode(project) == "offline"  # the project's wins over the global one
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wandb_mode(project) == "disabled"  # the environment wins over both
    monkeypatch.delenv("WANDB_MODE")
    write_settings(project / "wandb" / "settings", base_url="https://api.wandb.ai")
    assert wandb_mode(project) == "online"  # a project file without a mode: the global one's
    write_settings(tmp_path / "config" / "settings", mode="offline")
    assert wandb_mode(project) == "offline"
    (tmp_path / "config" / "settings").unlink()
    assert wandb_mode(project) == "online"  # what `wandb online` leaves: the file, no mode


@pytest.mark.slow
def test_tracker_runs_in_the_mode_the_settings_give(tmp_path, monkeypatch):
    """No WANDB_MODE: the project's `wandb offline` setting makes a real offline run there; with
    no setting at all, reslab's default is offline too (a run without a network)."""
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_DIR", raising=False)
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))
    for project, settings in ((tmp_path / "set", True), (tmp_path / "unset", False)):
        if settings:
            write_settings(project / "wandb" / "settings", mode="offline")
        monkeypatch.setenv("DVC_ROOT", str(project))
        t = Tracker(True, "reslab-test", "run", "group", {})
        assert t.run is not None and t.run.settings.mode == "offline"
        t.finish()
        assert len(list((project / "wandb").glob("offline-run-*"))) == 1


@pytest.mark.slow
def test_wandb_cli_settings_are_respected(tmp_path):
    """`wandb offline` and `wandb online`, the real commands (no network needed), as a stage in
    that project reads them."""
    project = tmp_path / "project"
    project.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "DVC_"))}
    env["WANDB_CONFIG_DIR"] = str(tmp_path / "config")
    check = [sys.executable, "-c", "from reslab.core.track import wandb_dir, wandb_mode; "
             "print(wandb_mode(wandb_dir()))"]

    def mode_after(command: str) -> str:
        subprocess.run([sys.executable, "-m", "wandb", command], cwd=project, env=env,
                       check=True, capture_output=True, timeout=120)
        return subprocess.run(check, cwd=project, env=env, check=True, capture_output=True,
                              text=True, timeout=120).stdout.strip()

    assert mode_after("offline") == "offline"
    assert mode_after("online") == "online"
    assert mode_after("offline") == "offline"
    env["WANDB_MODE"] = "disabled"
    assert mode_after("online") == "disabled"
