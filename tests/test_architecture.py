"""The package keeps its shape: packages by role, imports only downward, no import
cycles, an explicit public surface and class names that are unique across the package.
The import graph is read from the source with ``ast``; imports under ``TYPE_CHECKING``
(type hints only) are left out."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

SIM = Path(__file__).resolve().parents[1] / "sim"

#: The layers, lowest first: a module may import its own layer and those beneath it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("sim.common",),
    ("sim.engine.kernels",),
    ("sim.scenario",),
    ("sim.engine",),
    ("sim.results",),
    ("sim.experiments",),
    ("sim.analysis",),
    ("sim.output",),
    ("sim.interop", "sim.cli", "sim.app", "sim"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(SIM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SIM.rglob("*.py"))}


def layer(module: str) -> int:
    """Index in :data:`LAYERS` of the longest prefix naming ``module``'s package."""
    best, depth = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > depth:
                best, depth = index, len(prefix)
    assert best >= 0, f"{module} is in no layer of tests/test_architecture.py"
    return best


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of statements inside ``if TYPE_CHECKING:`` blocks."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports(module: str) -> set[str]:
    """Modules of ``sim`` that ``module`` imports at run time (at any depth)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    hints = _type_checking_only(tree)
    out: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in hints:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "sim")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "sim":
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.add(sub if sub in MODULES else node.module)
    return out - {module}


def import_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(MODULES)
    for module in MODULES:
        graph.add_edges_from((module, target) for target in imports(module))
    return graph


def test_every_module_belongs_to_a_layer():
    for module in MODULES:
        layer(module)


def test_imports_run_only_downward():
    upward = [
        f"{source} imports {target}"
        for source, target in import_graph().edges
        if layer(target) > layer(source)
    ]
    assert not upward, "imports that run up a layer:\n" + "\n".join(upward)


def test_there_are_no_import_cycles():
    cycles = list(nx.simple_cycles(import_graph()))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_kernels_import_nothing_of_the_model():
    graph = import_graph()
    for module in MODULES:
        if module.startswith("sim.engine.kernels"):
            for target in graph.successors(module):
                assert target.startswith(("sim.engine.kernels", "sim.common")), (
                    f"{module} imports {target}"
                )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_declares_its_public_names(module):
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    declared = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        and any(
            getattr(t, "id", None) == "__all__"
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
    ]
    assert declared, f"{module} has no __all__"
    names = ast.literal_eval(declared[0].value)
    defined = (
        {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        | {
            name.id
            for n in tree.body
            if isinstance(n, ast.Assign | ast.AnnAssign)
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            for name in ast.walk(t)
            if isinstance(name, ast.Name)
        }
        | {
            (a.asname or a.name).split(".")[0]
            for n in tree.body
            if isinstance(n, ast.Import | ast.ImportFrom)
            for a in n.names
        }
    )
    missing = [n for n in names if n not in defined]
    assert not missing, f"{module}.__all__ names what it does not define: {missing}"


def test_no_module_imports_another_modules_private_names():
    found = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sim"):
                found += [f"{module}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert not found, found


def test_class_names_are_unique_across_the_package():
    where: dict[str, list[str]] = {}
    for module, path in MODULES.items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                where.setdefault(node.name, []).append(module)
    clashes = {name: mods for name, mods in where.items() if len(mods) > 1}
    assert not clashes, clashes


def test_the_checker_sees_an_upward_import_and_a_cycle():
    graph = nx.DiGraph([("sim.common.stats", "sim.engine.model"), ("a", "b"), ("b", "a")])
    assert layer("sim.engine.model") > layer("sim.common.stats")
    assert list(nx.simple_cycles(graph.subgraph(["a", "b"])))
