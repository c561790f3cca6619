"""The layer order of docs/ARCHITECTURE.md holds: no module imports from a layer above its own
(lazy imports inside functions count too), and every package is placed in a layer."""

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
