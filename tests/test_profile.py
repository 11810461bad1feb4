import pytest
import yaml

from conftest import ROOT, deep_update
from reslab.core import config, sections
from reslab.core.config import read_params
from reslab.profile import command, environment, flatten

SECTIONS = {"runtime": config.RuntimeConfig, "data": sections.DataConfig,
            "train_mlp": sections.MLPStudyConfig, "train_cnn": sections.CNNStudyConfig,
            "improve_cnn": sections.ImproveConfig, "transfer": sections.TransferConfig}


def test_flatten_quotes_every_value_as_json():
    """A string with a comma, or one reading `true`, keeps its meaning through DVC's -S."""
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": "x,y", "e": True, "f": "true"}) == [
        "a.b=1", "a.c=[1, 2]", 'd="x,y"', "e=true", 'f="true"']
    for item in flatten({"d": "x,y", "f": "true", "g": 1e-4}):
        key, value = item.split("=", 1)
        assert yaml.safe_load(value) == {"d": "x,y", "f": "true", "g": 1e-4}[key]


@pytest.mark.parametrize("profile", sorted(p.stem for p in (ROOT / "profiles").glob("*.yaml")))
def test_profile_names_only_valid_params(profile, tmp_path):
    """Applied to params.yaml, a profile still passes every section's validation."""
    overrides = read_params(ROOT / "profiles" / f"{profile}.yaml")
    assert set(overrides) <= set(SECTIONS)
    params = deep_update(read_params(ROOT / "params.yaml"), overrides)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    for section, cls in SECTIONS.items():
        config.load(section, cls, tmp_path / "params.yaml")


def test_command_is_a_named_temporary_experiment(monkeypatch):
    monkeypatch.chdir(ROOT)
    cmd = command("quick", ["--queue"], exp_name="q1")
    assert cmd[:4] == ["dvc", "exp", "run", "--temp"] and cmd[-1] == "--queue"
    assert cmd[cmd.index("--name") + 1] == "q1"
    sets = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "-S"]
    assert sets == flatten(read_params(ROOT / "profiles" / "quick.yaml"))
    assert "--temp" not in command("quick", [], workspace=True)
    assert command("quick", [])[cmd.index("--name") + 1].startswith("quick-")
    with pytest.raises(SystemExit, match="no such profile"):
        command("nope", [])


def test_profile_read_as_params_yaml_is(tmp_path, monkeypatch):
    """`1e-4` is a number in params.yaml (its reader follows YAML 1.2), so it is in a profile
    too: PyYAML's own loader would pass it to DVC as the string "1e-4"."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "p.yaml").write_text("train_cnn:\n  train:\n    lr: 1e-4\n")
    assert "train_cnn.train.lr=0.0001" in command("p", [], exp_name="x")
    (tmp_path / "profiles" / "bad.yaml").write_text("- a list\n")
    with pytest.raises(SystemExit, match="bad.yaml: expected a mapping"):
        command("bad", [])


def test_relative_mirror_made_absolute_for_other_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RESLAB_DATA_MIRROR", "mirror")
    assert environment()["RESLAB_DATA_MIRROR"] == str(tmp_path / "mirror")
