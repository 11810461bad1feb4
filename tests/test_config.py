import dataclasses

import pytest
import yaml

from conftest import ROOT, deep_update
from project import augment as recipe_augment
from reslab.core.config import RuntimeConfig, TrainConfig, load, load_runtime
from reslab.core.errors import ConfigError
from reslab.core.sections import (
    CNNStudyConfig,
    DataConfig,
    ImproveConfig,
    MLPStudyConfig,
    TransferConfig,
)

SECTIONS = {"data": DataConfig, "train_mlp": MLPStudyConfig, "train_cnn": CNNStudyConfig,
            "improve_cnn": ImproveConfig, "transfer": TransferConfig, "runtime": RuntimeConfig}


def write_raw(tmp_path, text):
    p = tmp_path / "params.yaml"
    p.write_text(text)
    return p


def write(tmp_path, text):
    """The project's params.yaml with the sections or keys of `text` (YAML) changed."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    return write_raw(tmp_path, yaml.safe_dump(deep_update(params, yaml.safe_load(text))))


def test_every_section_of_the_shipped_params_loads():
    """params.yaml passes every section's checks (a profile's overrides: test_profile.py)."""
    for name, cls in SECTIONS.items():
        assert isinstance(load(name, cls, ROOT / "params.yaml"), cls)


def test_nested_values(tmp_path):
    p = write(tmp_path, "train_mlp:\n  width: 16\n  train:\n    lr: 1e-3\n")
    cfg = load("train_mlp", MLPStudyConfig, p)
    assert cfg.width == 16 and cfg.depths == [10, 20, 30]
    assert isinstance(cfg.train, TrainConfig) and cfg.train.lr == pytest.approx(1e-3)


@pytest.mark.parametrize(("section", "path"), [("train_mlp", ["width"]),
                                               ("train_mlp", ["train", "momentum"]),
                                               ("transfer", ["finetune", "augment", "hue"])])
def test_a_missing_key_is_an_error_naming_it(tmp_path, section, path):
    """No value has a default in the code: params.yaml says each one."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    parent = params[section]
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    p = write_raw(tmp_path, yaml.safe_dump(params))
    cls = {"train_mlp": MLPStudyConfig, "transfer": TransferConfig}[section]
    with pytest.raises(ConfigError, match=rf"^{'.'.join([section, *path])}: missing key"):
        load(section, cls, p)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data:\n  val_sise: 10\n", "data.val_sise: unknown key"),
        ("data:\n  val_size: ten\n", "data.val_size: expected int, got 'ten'"),
        ("data:\n  val_size: 1.5\n", "data.val_size: expected int, got 1.5"),
        ("data:\n  val_size: true\n", "data.val_size: expected int, got True"),
        ("data:\n  val_size: 0\n", "data.val_size: 0 is out of range (must be >= 1)"),
        ("data:\n  datasets: mnist\n", "data.datasets: expected a list, got 'mnist'"),
        ("data:\n  datasets: [mnist, 3]\n", "data.datasets[1]: expected str, got 3"),
        ("other: {}\n", "missing section 'data'"),
        ("data: [1, 2\n", "malformed YAML"),
        ("- 1\n- 2\n", "expected a mapping of sections"),
    ],
)
def test_data_errors(tmp_path, text, message):
    structural = message.startswith(("missing section", "malformed", "expected a mapping"))
    with pytest.raises(ConfigError, match=None) as e:
        load("data", DataConfig, (write_raw if structural else write)(tmp_path, text))
    assert message in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ("lr: -0.1", "train_mlp.train.lr: -0.1 is out of range (must be > 0)"),
        ("optimizer: rmsprop", "train_mlp.train.optimizer: 'rmsprop' is not one of adam, adamw"),
        ("scheduler: step", "train_mlp.train.scheduler: 'step' is not one of none, plateau"),
        ("epochs: 0", "train_mlp.train.epochs: 0 is out of range"),
        ("momentum: 1.0", "train_mlp.train.momentum: 1.0 is out of range (must be < 1)"),
        ("bf16: 'yes'", "train_mlp.train.bf16: expected true, false or auto, got 'yes'"),
        ("channels_last: 1", "train_mlp.train.channels_last: expected true, false or auto"),
        ("seeds: 3", "train_mlp.train.seeds: unknown key"),
    ],
)
def test_train_errors(tmp_path, train, message):
    p = write(tmp_path, f"train_mlp:\n  train:\n    {train}\n")
    with pytest.raises(ConfigError) as e:
        load("train_mlp", MLPStudyConfig, p)
    assert message in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: cannot read"):
        load("data", DataConfig, tmp_path / "nope.yaml")


def test_runtime_section_required_and_validated(tmp_path):
    with pytest.raises(ConfigError, match="missing section 'runtime'"):
        load_runtime(write_raw(tmp_path, "data: {}\n"))
    p = write_raw(tmp_path, "runtime:\n  device: cpu\n  wandb: false\n  wandb_project: p\n"
                            "  progress: false\n")
    assert load_runtime(p) == RuntimeConfig(device="cpu", wandb=False, wandb_project="p",
                                            progress=False)
    with pytest.raises(ConfigError, match="runtime.wanb: unknown key"):
        load_runtime(write(tmp_path, "runtime:\n  wanb: false\n"))


def test_seeds_are_a_study_list(tmp_path):
    p = write(tmp_path, "train_mlp:\n  seeds: [0, 3]\n")
    cfg = load("train_mlp", MLPStudyConfig, p)
    assert cfg.seeds == [0, 3]
    with pytest.raises(ConfigError, match=r"train_mlp.seeds\[0\]: -1 is out of range"):
        load("train_mlp", MLPStudyConfig, write(tmp_path, "train_mlp:\n  seeds: [-1]\n"))


def test_ladder_recipe_comes_from_its_optimizer_only(tmp_path):
    """A rung's lr and weight decay are per optimizer; setting one in the shared loop is an
    error, not a value silently overridden."""
    p = write(tmp_path, "transfer:\n  probe:\n    train:\n      lr: 0.1\n")
    with pytest.raises(ConfigError, match="transfer.probe.train.lr: unknown key"):
        load("transfer", TransferConfig, p)


def test_an_augmentation_that_would_change_a_class_is_dropped_for_that_data():
    aug = recipe_augment(crop_padding=4, flip=True)
    assert aug.for_data({"flip_changes_label": True}) == dataclasses.replace(aug, flip=False)
    assert aug.for_data({"flip_changes_label": False}) is aug
    assert aug.for_data({}) is aug  # a manifest of an older version: as asked
