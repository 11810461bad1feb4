"""The sections of params.yaml as the stages read them: each section whole, and the views of it
that one stage reads. A view holds some of its section's keys (its `WHOLE`, set at the end):
the others are the variant selectors a matrix passes on the command line, or keys that other
stages read; a key in neither class is unknown.
`reslab.core.config` holds the parts they share (recipe, augmentation) and the loader."""

from __future__ import annotations

from pydantic import StrictStr

from reslab.core.config import (
    Arch,
    AtLeastOne,
    AugmentConfig,
    Count,
    LoopConfig,
    Optimizer,
    OptimizerConfig,
    Positive,
    Seed,
    TrainConfig,
    params_class,
    recipe,
)


@params_class
class DataSplit:
    """`data` as prepare_data@<name> reads it: how to carve the validation split. `seed` fixes
    the split and every `train_subset` drawn from it, so runs of other seeds (and every rung of
    the transfer ladder) see the same images."""

    val_size: AtLeastOne
    test_subset: Count  # 0 = the whole test split; else a seeded sample this size
    seed: Seed


@params_class
class DataSources:
    """`data` as download_data reads it: which datasets to fetch."""

    datasets: list[StrictStr]


@params_class
class DataConfig(DataSplit):
    """`data`, whole."""

    datasets: list[StrictStr]


@params_class
class StudyVariants:
    """A depth study's matrix, as its analysis reads it."""

    depths: list[AtLeastOne]  # MLP: hidden layers; CNN: the CNN checks its own minimum
    archs: list[Arch]
    seeds: list[Seed]  # each seed: its own initialisation and shuffling


@params_class
class MLPVariants(StudyVariants):
    """`train_mlp`'s matrix."""


@params_class
class CNNVariants(StudyVariants):
    """`train_cnn`'s matrix."""


@params_class
class MLPRun:
    """`train_mlp` as one depth x {plain, residual} variant of the study reads it: it trains
    the variant once per seed."""

    dataset: StrictStr
    width: AtLeastOne
    train_subset: Count  # 0 = the whole training split
    gradflow_batches: AtLeastOne
    seeds: list[Seed]  # each seed: its own initialisation and shuffling
    train: TrainConfig


@params_class
class MLPStudyConfig(MLPRun):
    """`train_mlp`, whole: the MLP study (docs/lab.md)."""

    depths: list[AtLeastOne]
    archs: list[Arch]


@params_class
class CNNRun:
    """What every CNN training section shares: data, scale knobs, seeds, augmentation, recipe;
    as one depth x {plain, residual} variant of the CNN study reads `train_cnn` (a run per
    seed)."""

    dataset: StrictStr
    width: AtLeastOne  # channels after the stem; doubled at each downsampling
    train_subset: Count
    gradflow_batches: AtLeastOne
    seeds: list[Seed]
    augment: AugmentConfig
    train: TrainConfig


@params_class
class CNNStudyConfig(CNNRun):
    """`train_cnn`, whole: the CNN study (docs/lab.md)."""

    depths: list[AtLeastOne]
    archs: list[Arch]


@params_class
class ImproveConfig(CNNRun):
    """`improve_cnn`, whole: the residual backbone with a better recipe, a run per seed, each
    paired with the CNN study's residual run of its depth and seed; the transfer starts from
    the first seed's."""

    depth: AtLeastOne


@params_class
class LadderRung:
    """`transfer.probe` or `transfer.finetune` as one optimizer's variant reads it: the shared
    loop (and the rung's train-only augmentation); its optimizer's settings are their own key."""

    train: LoopConfig


@params_class
class LadderFinetune(LadderRung):
    augment: AugmentConfig


@params_class
class PerOptimizer:
    """The settings of each optimizer of the transfer ladders."""

    adam: OptimizerConfig
    adamw: OptimizerConfig
    sgd: OptimizerConfig
    sgd_momentum: OptimizerConfig


@params_class
class ProbeConfig:
    """`transfer.probe`, whole: the loop is shared, each optimizer has its own lr and decay."""

    optim: PerOptimizer
    train: LoopConfig

    def recipe(self, optimizer: Optimizer) -> TrainConfig:
        """The loop with `optimizer`'s settings, as that optimizer's variant trains."""
        return recipe(self.train, optimizer, getattr(self.optim, optimizer))


@params_class
class RungConfig(ProbeConfig):
    """`transfer.finetune`, whole: the probe's settings plus train-only augmentation."""

    augment: AugmentConfig


@params_class
class SingleRungConfig:
    """A rung trained with one optimizer (`train.optimizer`), which also names the ladder it
    starts from: FT2+aug from that ladder's FT1, the full fine-tune from its linear probe."""

    augment: AugmentConfig
    train: TrainConfig


@params_class
class TransferData:
    """`transfer` as the SVM baseline's view starts: which dataset."""

    dataset: StrictStr


@params_class
class ProbeData(TransferData):
    """`transfer` as the linear probe reads it: the dataset and the seeds (a run per seed)."""

    seeds: list[Seed]


@params_class
class RungData(ProbeData):
    """`transfer` as a fine-tuning rung reads it: the probe's, and the training subset."""

    train_subset: Count  # scale knob: 0 = the whole training split


@params_class
class FeaturesConfig(TransferData):
    """`transfer` as extract_features reads it."""

    train_subset: Count
    feature_batch_size: AtLeastOne


@params_class
class SVMConfig(TransferData):
    """`transfer` as the SVM baseline reads it."""

    svm_C: list[Positive]  # candidates; the best on val is scored on test
    svm_max_iter: AtLeastOne


@params_class
class TransferConfig:
    """`transfer`, whole: the CIFAR-10 backbone moved to `dataset` (docs/lab.md)."""

    dataset: StrictStr
    optimizers: list[Optimizer]
    # each seed its own variant of every rung: new heads, shuffling and augmentation
    seeds: list[Seed]
    train_subset: Count
    feature_batch_size: AtLeastOne
    svm_C: list[Positive]
    svm_max_iter: AtLeastOne
    probe: ProbeConfig
    finetune: RungConfig  # FT0, FT1 and FT2 (`reslab.core.ladder`)
    ft2_aug: SingleRungConfig  # a field for each rung of one optimizer, under its name
    full: SingleRungConfig


for _whole, _views in {DataConfig: (DataSplit, DataSources), ImproveConfig: (),
                       MLPStudyConfig: (MLPVariants, MLPRun),
                       CNNStudyConfig: (CNNVariants, CNNRun),
                       ProbeConfig: (LadderRung,),
                       RungConfig: (LadderFinetune,),
                       TransferConfig: (TransferData, ProbeData, RungData, FeaturesConfig,
                                       SVMConfig)}.items():
    _whole.WHOLE = _whole  # a section is whole even where it extends a view (ImproveConfig)
    for _view in _views:
        _view.WHOLE = _whole  # the section the view is part of: what its other keys are
