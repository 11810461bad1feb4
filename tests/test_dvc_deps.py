"""Every library module a stage imports is among its DVC dependencies, and a stage reads
exactly the params it declares, so that a change to any code or param a stage uses re-runs it,
and a change to one it does not use re-runs nothing."""

import ast
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from dvc.repo import Repo

from conftest import ROOT, load_script
from project import dvc_stages
from reslab.core.config import declared, load_params

SRC = ROOT / "src"


def module_files(name: str) -> list[Path]:
    """The files Python runs to import `name` (its packages' __init__.py included), or [] when
    `name` is not a module (a class or function imported from one)."""
    parts = name.split(".")
    files = []
    for i in range(1, len(parts) + 1):
        base = SRC.joinpath(*parts[:i])
        if (base / "__init__.py").exists():
            files.append(base / "__init__.py")
        elif base.with_suffix(".py").exists():
            files.append(base.with_suffix(".py"))
        else:
            return files if i > 1 else []
    return files


def imported_files(script: Path) -> set[Path]:
    """reslab files a script imports, transitively, read from the source (imports inside
    functions count too)."""
    todo, seen = [script], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                if name == "reslab" or name.startswith("reslab."):
                    todo += module_files(name)
    return {p for p in seen if p != script}


def stages():
    repo = Repo(str(ROOT))
    try:
        outs = {Path(o.fs_path) for s in repo.index.stages for o in s.outs}
        return outs, [(s.addressing, s.cmd, s.wdir, [Path(d.fs_path) for d in s.deps],
                       {k for p in s.params for k in p.params}) for s in repo.index.stages]
    finally:
        repo.close()


OUTS, STAGES = stages()


def test_every_stage_is_checked():
    names = {name for name, *_ in STAGES}
    assert {"sources/dvc.yaml:download_data", "prepare_data@mnist", "train_mlp@10-plain",
            "analyze_cnn", "linear_probe@adam", "finetune_full", "report"} <= names


@pytest.mark.parametrize(("name", "cmd", "wdir", "deps", "params"), STAGES,
                         ids=[s[0] for s in STAGES])
def test_stage_depends_on_every_module_it_imports(name, cmd, wdir, deps, params):
    argv = shlex.split(cmd)
    assert argv[0] == "python" and argv[1].startswith("stages/"), cmd
    script = Path(wdir) / argv[1]
    assert Path(script) in deps, f"{name}: its script {argv[1]} is not a dependency"
    missing = [str(f.relative_to(ROOT)) for f in sorted(imported_files(script))
               if not any(f == d or d in f.parents for d in deps)]
    assert not missing, f"{name} imports {missing} but does not depend on them"
    absent = [d for d in deps if not d.exists()
              and not any(d == o or o in d.parents or d in o.parents for o in OUTS)]
    assert not absent, f"{name} depends on {absent}, which nothing provides"


@pytest.mark.parametrize(("name", "cmd", "wdir", "deps", "params"), STAGES,
                         ids=[s[0] for s in STAGES])
def test_stage_reads_exactly_the_params_it_declares(name, cmd, wdir, deps, params):
    """The script's `params(argv)`, which its `main` loads and nothing else, stands for the
    keys dvc.yaml declares for this stage, no more and no fewer (`runtime` is never declared:
    it changes how a run is carried out, not what it computes)."""
    argv = shlex.split(cmd)
    reads = load_script(Path(wdir) / argv[1]).params(argv[2:])
    assert declared(reads) == params, name
    load_params(reads, ROOT / "params.yaml")


def test_transfer_seeds_are_trained_by_every_rung_stage(tmp_path):
    """As a study's seeds: each rung's stage (one per optimizer of a ladder rung) trains every
    one of `transfer.seeds`, each starting from the rung before of the same optimizer and seed,
    so the stages that train declare the list and nothing else changes with it."""
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["transfer"]["seeds"] = [0, 3]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    Repo.init(str(tmp_path), no_scm=True).close()

    found = dvc_stages(tmp_path)
    rungs = {name for name in found if name.startswith(("linear_probe", "finetune_"))}
    assert rungs == {f"{rung}@{opt}" for rung in ("linear_probe", "finetune_ft0", "finetune_ft1",
                                                  "finetune_ft2")
                     for opt in params["transfer"]["optimizers"]} | {"finetune_ft2_aug",
                                                                     "finetune_full"}
    deps = {str(Path(d.fs_path).relative_to(tmp_path)) for d in found["finetune_ft1@sgd"].deps}
    assert "models/finetune_ft0/sgd" in deps
    outs = {str(Path(o.fs_path).relative_to(tmp_path)) for o in found["finetune_full"].outs}
    assert "metrics/finetune_full" in outs
    declares = {name for name, stage in found.items()
                if any({"transfer", "transfer.seeds"} & set(p.params) for p in stage.params)}
    assert declares == rungs | {"report"}
