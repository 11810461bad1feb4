"""The library's layers: `reslab.core` (config, files, outputs, tracking) sits below the rest."""

import ast

from conftest import ROOT

CORE = ROOT / "src" / "reslab" / "core"


def project_imports(path) -> set[str]:
    """The reslab modules a file imports, at any depth of its code."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return {n for n in names if n == "reslab" or n.startswith("reslab.")}


def test_core_imports_nothing_of_the_project_above_it():
    above = {f"{p.relative_to(ROOT)}: {name}" for p in sorted(CORE.glob("*.py"))
             for name in project_imports(p) if not name.startswith("reslab.core")}
    assert not above, f"reslab.core imports upwards: {sorted(above)}"
