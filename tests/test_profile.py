import pytest
import yaml

from conftest import ROOT, deep_update
from reslab.core import config
from reslab.profile import command, flatten

SECTIONS = {"data": config.DataConfig, "train_mlp": config.MLPStudyConfig,
            "train_cnn": config.CNNStudyConfig, "improve_cnn": config.ImproveConfig,
            "transfer": config.TransferConfig}


def test_flatten():
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": True}) == [
        "a.b=1", "a.c=[1, 2]", "d=x", "e=true"]


@pytest.mark.parametrize("profile", sorted(p.stem for p in (ROOT / "profiles").glob("*.yaml")))
def test_profile_names_only_valid_params(profile, tmp_path):
    """Applied to params.yaml, a profile still passes every section's validation."""
    overrides = yaml.safe_load((ROOT / "profiles" / f"{profile}.yaml").read_text())
    assert set(overrides) <= set(SECTIONS)
    params = deep_update(yaml.safe_load((ROOT / "params.yaml").read_text()), overrides)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    for section, cls in SECTIONS.items():
        config.load_section(section, cls, tmp_path / "params.yaml")


def test_command(monkeypatch):
    monkeypatch.chdir(ROOT)
    cmd = command("quick", ["--queue"])
    assert cmd[:3] == ["dvc", "exp", "run"] and cmd[-1] == "--queue"
    assert "train_cnn.width=16" in cmd
    with pytest.raises(SystemExit, match="no such profile"):
        command("nope", [])
