"""Run by Python at start-up when this folder is on PYTHONPATH, as the whole-study test puts it
for the stages DVC runs: a stage script's process records every params key it reaches (a leaf
of a config dataclass that `reslab.core.params.build` made, read by the stage or by
`dataclasses.asdict`/`replace` of its section) into $RESLAB_PARAM_READS/<uuid>.json, beside
its argv, so that tests/test_pipeline_study.py can check them against the params its dvc.yaml
entry declares. Data-parallel workers (LOCAL_RANK set) are their launcher's run: not recorded."""

import atexit
import dataclasses
import json
import os
import sys
import uuid
from pathlib import Path

OUT = os.environ.get("RESLAB_PARAM_READS")


def record() -> None:
    from reslab.core import config, params

    reads: set[str] = set()
    build = params.build

    def building(cls, raw, prefix):  # the key path of every config object, kept on it
        obj = build(cls, raw, prefix)
        object.__setattr__(obj, "_params_key", prefix)
        return obj

    params.build = config.build = building
    for cls in [c for c in vars(config).values()
                if isinstance(c, type) and dataclasses.is_dataclass(c)]:
        def reading(self, name):
            value = object.__getattribute__(self, name)
            key = object.__getattribute__(self, "__dict__").get("_params_key")
            if key and name in type(self).__dataclass_fields__ \
                    and not dataclasses.is_dataclass(value):
                reads.add(f"{key}.{name}")
            return value

        cls.__getattribute__ = reading

    def save() -> None:
        Path(OUT, f"{uuid.uuid4().hex}.json").write_text(
            json.dumps({"argv": sys.argv, "reads": sorted(reads)}))

    atexit.register(save)


if OUT and sys.argv and sys.argv[0].startswith("stages/") and "LOCAL_RANK" not in os.environ:
    record()
