"""The import contract of shared/DESIGN.md, checked on the source tree by AST (every import, lazy ones too).

Arrows point one way: gwm <- exporters <- sim_tasks <- pipelines. A lower layer never imports a higher
one; only pipelines imports Prefect; heavy optional packages are imported inside the functions that
need them, so `import gwm` stays light.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("gwm", "exporters", "sim_tasks", "pipelines")  # each may import the ones before it
HEAVY = ("newton", "warp", "pxr", "isaaclab", "nerfstudio", "gsplat", "mujoco", "pycolmap", "prefect")


def _imports(path: Path):
    """(module, line, at_module_level) for every import statement in the file."""
    tree = ast.parse(path.read_text(), str(path))
    top = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno, id(node) in top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno, id(node) in top


def _module_strings(path: Path):
    """(string, line) for string literals that are exactly a dotted module path (importlib.import_module targets)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _DOTTED.match(node.value):
            yield node.value, node.lineno


_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


def _sources(layer: str):
    return sorted((ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", LAYERS)
def test_lower_layers_never_import_higher_ones(layer):
    higher = LAYERS[LAYERS.index(layer) + 1:]
    bad = [f"{p.relative_to(ROOT)}:{line} imports {mod}"
           for p in _sources(layer) for mod, line, _ in _imports(p) if mod.split(".")[0] in higher]
    bad += [f"{p.relative_to(ROOT)}:{line} names module {mod!r} (importlib)"
            for p in _sources(layer) for mod, line in _module_strings(p) if mod.split(".")[0] in higher]
    assert not bad, f"{layer} may import only {LAYERS[:LAYERS.index(layer) + 1]}:\n" + "\n".join(bad)


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_only_pipelines_imports_prefect(layer):
    bad = [f"{p.relative_to(ROOT)}:{line}" for p in _sources(layer) for mod, line, _ in _imports(p)
           if mod.split(".")[0] == "prefect"]
    assert not bad, "Prefect belongs to pipelines/ only:\n" + "\n".join(bad)


# Subclasses of a heavy package's classes, so they import it at module level; they run in the Isaac Lab venv
# only, and every other module imports them lazily (checked below).
SUBCLASS_MODULES = ("sim_tasks/isaaclab_cpu_graph.py",)


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_heavy_packages_are_imported_lazily(layer):
    bad = [f"{p.relative_to(ROOT)}:{line} imports {mod} at module level" for p in _sources(layer)
           if str(p.relative_to(ROOT)) not in SUBCLASS_MODULES
           for mod, line, top in _imports(p) if top and mod.split(".")[0] in HEAVY]
    subclass_modules = {m[:-3].replace("/", ".") for m in SUBCLASS_MODULES}
    bad += [f"{p.relative_to(ROOT)}:{line} imports {mod} at module level" for p in _sources(layer)
            for mod, line, top in _imports(p) if top and mod in subclass_modules]
    assert not bad, "import heavy optional packages inside the functions that need them:\n" + "\n".join(bad)


def test_the_contract_check_sees_a_violation(tmp_path):
    # the scanner itself: a lazy upward import inside a function is found, with its line
    f = tmp_path / "m.py"
    f.write_text("import numpy\n\ndef f():\n    from pipelines.config import PipelineConfig\n")
    assert [(m, line, top) for m, line, top in _imports(f)] == [("numpy", 1, True), ("pipelines.config", 4, False)]
    f.write_text('import importlib\nmod = importlib.import_module("sim_tasks.cli")\nmsg = "see sim_tasks.cli for more"\n')
    assert list(_module_strings(f)) == [("sim_tasks.cli", 2)]  # a whole module path, not prose
