"""Stage prepare_data@<name>: fetch one dataset and write data/prepared/<name>.{npz,json}."""

import argparse
import sys

from reslab.cli import run_stage
from reslab.config import DataConfig, load_section
from reslab.data.prepare import prepare
from reslab.data.sources import load_source, resolve_source
from reslab.errors import ConfigError

OUT_DIR = "data/prepared"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", help="dataset name, one of data.datasets in params.yaml")
    args = parser.parse_args(argv)
    cfg = load_section("data", DataConfig)
    if args.name not in cfg.datasets:
        raise ConfigError(f"data.datasets: {args.name!r} is not listed ({cfg.datasets})")
    source = resolve_source(args.name)
    print(f"{args.name}: reading from {source.kind} ({source.path})", flush=True)
    raw = load_source(args.name, source)
    manifest = prepare(args.name, raw, source, cfg.val_size, cfg.seed, OUT_DIR)
    counts = {k: v["total"] for k, v in manifest["counts"].items()}
    print(f"{args.name}: {counts}, {manifest['num_classes']} classes, "
          f"shape {manifest['image_shape']} -> {OUT_DIR}/{args.name}.npz")


if __name__ == "__main__":
    sys.exit(run_stage(main))
