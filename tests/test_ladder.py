"""dvc.yaml against the one table of the transfer ladder (`reslab.core.ladder`) and the one
place output paths are derived (`reslab.core.outputs`): adding a rung or renaming an output is
a change there and in dvc.yaml, and these tests fail while the two disagree."""

import dataclasses
import shlex
from pathlib import Path

import pytest

from conftest import ROOT
from project import dvc_stages, section
from reslab.core import outputs
from reslab.core.ladder import LADDER, RUNGS, SINGLE, backbone
from reslab.core.outputs import VariantOutputs
from reslab.core.sections import DataConfig, ImproveConfig, TransferConfig
from reslab.report import lab

STAGES = dvc_stages(ROOT)
TR = section("transfer", TransferConfig)
BACKBONE_SEED = section("improve_cnn", ImproveConfig).seeds[0]  # the transfer's backbone


def relative(paths) -> set[str]:
    return {str(Path(p.fs_path).relative_to(ROOT)) for p in paths}


def variants(rung):
    """(stage name, optimizer) of every stage of `rung` that the params define: one per
    optimizer of a ladder rung, one for a rung of one optimizer; each trains every seed."""
    if rung.per_optimizer:
        return [(f"{rung.stage}@{opt}", opt) for opt in TR.optimizers]
    return [(rung.stage, getattr(TR, rung.name).train.optimizer)]


def folders(out: VariantOutputs) -> set[str]:
    """The folders a stage declares for one seed's files: every seed of it writes there."""
    return {str(out.model.parent), str(out.history.parent), str(out.metrics.parent)}


def test_dvc_yaml_has_a_stage_per_rung_and_no_other():
    found = {name.split("@")[0] for name in STAGES}
    transfer = {n for n in found if n.startswith(("linear_probe", "finetune_"))}
    assert transfer == set(RUNGS)


@pytest.mark.parametrize("rung", RUNGS.values(), ids=list(RUNGS))
def test_each_rung_runs_its_script_from_its_start_to_its_outputs(rung):
    for name, opt in variants(rung):
        stage = STAGES[name]
        script = "stages/linear_probe.py" if rung.starts_from is None else "stages/finetune.py"
        argv = [] if rung.starts_from is None else [rung.name]
        argv += ["--optimizer", opt] if rung.per_optimizer else []
        argv += ["--backbone-seed", str(BACKBONE_SEED)] if rung.starts_from is None else []
        assert shlex.split(stage.cmd) == ["python", script, *argv]
        for seed in TR.seeds:
            start = rung.start(opt, seed, BACKBONE_SEED)
            deps = relative(stage.deps)
            assert str(start) in deps or str(start.parent) in deps, \
                f"{name} does not depend on {start}"
            assert relative(stage.outs) == folders(rung.outputs(opt, seed))
    assert (rung.starts_from is None) == (rung.start("adam", 0, 7) == backbone(7))


def test_every_training_stage_writes_where_the_engine_does():
    for name, stage in STAGES.items():
        base, _, variant = name.partition("@")
        if not any(str(o).startswith("models/") for o in stage.outs):
            continue
        out = VariantOutputs.for_variant(base, f"{variant}/0" if variant else "0")
        assert folders(out) <= relative(stage.outs) <= folders(out) | {
            str(out.gradflow.parent)}, name


def test_the_ladder_is_what_every_reader_names():
    """The rungs trained with one optimizer have their own section, named after them; the
    lab's numbers, the report's inputs and the `dvc plots` of the ladder name table rungs."""
    fields = {f.name for f in dataclasses.fields(TransferConfig)}
    assert {r.name for r in SINGLE} <= fields
    assert set(lab.TRANSFER) <= set(RUNGS)
    report = relative(STAGES["report"].deps)
    for rung in RUNGS.values():
        assert {f"metrics/{rung.stage}", f"plots/{rung.stage}"} <= report, rung.stage
    chain = [rung.stage for rung in LADDER]
    assert [r.starts_from for r in LADDER] == [None, *chain[:-1]]


def test_the_other_outputs_are_where_their_readers_look():
    outs = {name: relative(stage.outs) for name, stage in STAGES.items()}
    for study, stage in (("train_mlp", "analyze_mlp"), ("train_cnn", "analyze_cnn")):
        assert {str(outputs.analysis(study)), str(outputs.curves(study)),
                str(outputs.figures(study))} <= outs[stage]
    for dataset in section("data", DataConfig).datasets:
        assert {str(outputs.prepared(dataset)), str(outputs.prepared(dataset, "json"))} <= outs[
            f"prepare_data@{dataset}"]
    assert str(outputs.features(TR.dataset)) in outs["extract_features"]
    assert str(backbone(BACKBONE_SEED)) in relative(STAGES["extract_features"].deps)
    assert str(outputs.SVM) in outs["svm_baseline"]
    assert {str(outputs.SUMMARY), str(outputs.TRANSFER_CURVES), str(outputs.curves("improve_cnn")),
            str(outputs.REPORT / "results.md")} <= outs["report"]
