import json

import pytest

from reslab.core.track import Tracker, write_metrics, write_table


def test_metrics_must_be_numeric(tmp_path):
    write_metrics(tmp_path / "m.json", {"a": 1, "b": {"c": 2.5}})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 1, "b": {"c": 2.5}}
    with pytest.raises(TypeError, match=r"b.c"):
        write_metrics(tmp_path / "bad.json", {"a": 1, "b": {"c": "x"}})
    assert not (tmp_path / "bad.json").exists()


def test_table_csv(tmp_path):
    write_table(tmp_path / "h.csv", [{"epoch": 1, "val_acc": 50.0}, {"epoch": 2, "val_acc": 60.0}])
    assert (tmp_path / "h.csv").read_text().splitlines() == ["epoch,val_acc", "1,50", "2,60"]


def test_disabled_tracker_is_a_no_op(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    t = Tracker(True, "p", "n", "g", {"lr": 1.0})
    assert t.run is None
    t.log({"x": 1})
    t.finish({"y": 2})
    assert Tracker(False, "p", "n", "g", {}).run is None


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
