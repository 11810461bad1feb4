"""Stage prepare_data@<name>: decode data/source/<name>/ into data/prepared/<name>.{npz,json}."""

import argparse
import sys
from pathlib import Path

from reslab.core import outputs
from reslab.core.cli import run_stage
from reslab.core.config import load_params
from reslab.core.sections import DataSplit
from reslab.datasets.prepare import prepare
from reslab.datasets.sources import read_source_dir


def params(argv: list[str]) -> dict[str, type]:
    """What this stage reads of params.yaml: its dvc.yaml `params`, exactly."""
    return {"data": DataSplit}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", help="dataset name, one of data.datasets in params.yaml")
    args = parser.parse_args(argv)
    (cfg,) = load_params(params(argv))
    raw, kind, archive = read_source_dir(args.name, Path("data/source") / args.name)
    manifest = prepare(args.name, raw, cfg.val_size, cfg.seed, outputs.PREPARED,
                       test_subset=cfg.test_subset, source=kind, source_file=archive)
    counts = {k: v["total"] for k, v in manifest["counts"].items()}
    print(f"{args.name}: {counts}, {manifest['num_classes']} classes, "
          f"shape {manifest['image_shape']} -> {outputs.prepared(args.name)}")


if __name__ == "__main__":
    sys.exit(run_stage(main))
