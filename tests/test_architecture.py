"""The layer order of docs/ARCHITECTURE.md holds: no module imports from a layer above its own
(lazy imports inside functions count too), every package is placed in a layer, and inside a
package the modules' imports run one way (no cycle, lazy imports included)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "amrkit"


def layers() -> dict[str, int]:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    assert block, "docs/ARCHITECTURE.md lost its ```layers block"
    order = {}
    for i, line in enumerate(block.group(1).split("\n")):
        for name in line.split():
            order[name] = i
    return order


def unit_of(module: str) -> str:
    """amrkit.golden.lower.core → golden; amrkit → amrkit."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "amrkit"


def imports(path: Path, package: Path) -> list[tuple[int, str]]:
    """(line, unit) of every amrkit import in a file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "amrkit":  # from amrkit import artifacts / __version__
                for alias in node.names:
                    sub = package / alias.name
                    is_unit = sub.is_dir() or sub.with_suffix(".py").is_file()
                    found.append((node.lineno, alias.name if is_unit else "amrkit"))
            elif node.module.startswith("amrkit."):
                found.append((node.lineno, unit_of(node.module)))
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, unit_of(a.name)) for a in node.names if a.name.startswith("amrkit.")
            ]
    return found


def module_unit(path: Path, package: Path = PACKAGE) -> str:
    rel = path.relative_to(package)
    return (
        rel.parts[0].removesuffix(".py")
        if len(rel.parts) > 1 or rel.name != "__init__.py"
        else "amrkit"
    )


def violations(order: dict[str, int], package: Path = PACKAGE) -> list[str]:
    out = []
    for path in sorted(package.rglob("*.py")):
        me = module_unit(path, package)
        where = path.relative_to(package.parent)
        for line, unit in imports(path, package):
            if unit == me:
                continue
            if unit not in order or me not in order:
                out.append(f"{where}:{line} {me} or {unit} has no layer")
            elif order[unit] >= order[me]:
                out.append(f"{where}:{line} {me} imports {unit} (not below it)")
    return out


def module_name(path: Path, package: Path = PACKAGE) -> str:
    """amrkit/data/native.py → amrkit.data.native; amrkit/data/__init__.py → amrkit.data."""
    rel = path.relative_to(package.parent).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def module_targets(path: Path, package: Path = PACKAGE) -> set[str]:
    """The amrkit modules a file imports, at any depth: ``from amrkit.data import native``
    names the module amrkit.data.native, ``from amrkit.data import open_frames`` the package
    amrkit.data (its ``__init__``)."""
    root = package.parent

    def is_module(name: str) -> bool:
        p = root.joinpath(*name.split("."))
        return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == package.name or node.module.startswith(package.name + "."):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if is_module(sub) else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(package.name + ".")}
    return found


def package_cycles(package: Path = PACKAGE) -> list[str]:
    """Import cycles among the modules of one package (``a -> b -> a``), one per strongly
    connected group of modules, each written from its first module in name order."""
    graph: dict[str, list[str]] = {}
    for path in sorted(package.rglob("*.py")):
        me = module_name(path, package)
        unit = module_unit(path, package)
        graph[me] = sorted(
            t
            for t in module_targets(path, package)
            if t != me and t.count(".") >= 1 and t.split(".")[1] == unit and unit != "amrkit"
        )
    cycles = []
    for group in _strongly_connected(graph):
        start = min(group)
        cycles.append(" -> ".join([*_cycle_path(graph, start, set(group)), start]))
    return sorted(cycles)


def _strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of more than one module that reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return groups


def _cycle_path(graph: dict[str, list[str]], start: str, group: set[str]) -> list[str]:
    """A shortest path from ``start`` back to itself inside ``group`` (breadth first)."""
    parent: dict[str, str] = {}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in graph[v]:
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return path[::-1]
            if w in group and w not in parent:
                parent[w] = v
                queue.append(w)
    raise AssertionError(f"{start} is in no cycle")


def test_every_package_has_a_layer():
    order = layers()
    units = {module_unit(p) for p in PACKAGE.rglob("*.py")}
    assert sorted(units - set(order)) == []


def test_imports_only_go_down():
    assert violations(layers()) == []


def test_the_check_catches_an_upward_import(tmp_path):
    """Control: the same checker flags ``models`` importing ``quant`` lazily, and a package
    the layer list does not know."""
    fake = tmp_path / "amrkit"
    (fake / "models").mkdir(parents=True)
    (fake / "quant").mkdir()
    (fake / "models" / "bad.py").write_text("def f():\n    from amrkit.quant import quantize\n")
    (fake / "quant" / "ok.py").write_text("from amrkit.models import build\n")
    (fake / "newpkg.py").write_text("import amrkit.errors\n")
    found = violations(layers(), fake)
    assert found == [
        "amrkit/models/bad.py:2 models imports quant (not below it)",
        "amrkit/newpkg.py:1 newpkg or errors has no layer",
    ]


def test_no_import_cycle_inside_a_package():
    assert package_cycles() == []


def test_the_check_catches_a_cycle_inside_a_package(tmp_path):
    """Control: a lazy import back from ``b`` to ``a`` is a cycle, as is a three-module loop
    through a package's ``__init__``; a one-way chain and imports between packages are not."""
    fake = tmp_path / "amrkit"
    (fake / "data").mkdir(parents=True)
    (fake / "search").mkdir()
    (fake / "data" / "a.py").write_text("from amrkit.data.b import f\nimport amrkit.data.c\n")
    (fake / "data" / "b.py").write_text("def f():\n    from amrkit.data.a import g\n")
    (fake / "data" / "c.py").write_text("from amrkit.errors import AmrkitError\n")
    (fake / "search" / "__init__.py").write_text("from amrkit.search import x\n")
    (fake / "search" / "x.py").write_text("from amrkit.search.y import h\nimport amrkit.data.a\n")
    (fake / "search" / "y.py").write_text("def h():\n    from amrkit.search import run\n")
    assert package_cycles(fake) == [
        "amrkit.data.a -> amrkit.data.b -> amrkit.data.a",
        "amrkit.search -> amrkit.search.x -> amrkit.search.y -> amrkit.search",
    ]
    (fake / "data" / "b.py").write_text("def f():\n    from amrkit.data.c import g\n")
    (fake / "search" / "y.py").write_text("def h():\n    from amrkit.data import run\n")
    assert package_cycles(fake) == []
