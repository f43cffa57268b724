"""The layer rule: only studio/ui may import Qt; the engine works with Qt absent."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

STUDIO = Path(__file__).resolve().parents[1] / "studio"
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "PySide2", "shiboken6", "qtpy", "superqt", "pyqtgraph")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_ui_imports_qt():
    offenders = []
    for path in STUDIO.rglob("*.py"):
        if path.relative_to(STUDIO).parts[0] == "ui":
            continue
        qt = _imports(path) & set(QT_MODULES)
        if qt:
            offenders.append(f"{path.relative_to(STUDIO.parent)} imports {', '.join(sorted(qt))}")
    assert not offenders, "Qt outside studio/ui:\n" + "\n".join(offenders)


def test_engine_imports_and_renders_with_qt_blocked():
    """Import every non-UI package in a fresh interpreter where importing Qt raises."""
    code = f"""
import sys, importlib.abc
class BlockQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {QT_MODULES!r}:
            raise ImportError('Qt is blocked in this test: ' + name)
sys.meta_path.insert(0, BlockQt())
import pkgutil, studio
for mod in pkgutil.walk_packages(studio.__path__, 'studio.'):
    if mod.name.startswith('studio.ui') or mod.name == 'studio.__main__':
        continue
    importlib.import_module(mod.name)
import torch
from studio.engine.networks import GeneratorConfig, make_generator
G = make_generator(GeneratorConfig(z_dim=8, w_dim=8, img_resolution=8, mapping_layers=1, channel_base=64, channel_max=8))
print(G(torch.zeros(1, 8)).shape)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "torch.Size([1, 3, 8, 8])" in result.stdout
