"""The house's rules: the import-linter contracts in pyproject.toml hold, and everything but the
window imports (and renders) with Qt absent."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "PySide2", "shiboken6", "qtpy", "superqt", "pyqtgraph")


def test_import_contracts_hold():
    """ui|cli > app > training > data|library > evolve|clip|imaging|hub > gan > core; Qt only in ui."""
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.fail("lint-imports is missing: `make test` installs it with the dev extras")
    result = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout


def test_every_package_is_in_a_layer():
    """A new top-level package must be given its place in the contracts, or it escapes them."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    layers = text.split("layers = [", 1)[1].split("]", 1)[0]
    packages = sorted(p.name for p in (ROOT / "studio").iterdir() if (p / "__init__.py").is_file())
    missing = [name for name in packages if not re.search(rf"\bstudio\.{name}\b", layers)]
    assert not missing, f"packages missing from the layers contract: {missing}"


def test_everything_but_the_window_imports_and_renders_with_qt_blocked():
    """Import every non-UI module in a fresh interpreter where importing Qt raises."""
    code = f"""
import sys, importlib, importlib.abc
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
from studio.gan.networks import GeneratorConfig, make_generator
G = make_generator(GeneratorConfig(z_dim=8, w_dim=8, img_resolution=8, mapping_layers=1, channel_base=64, channel_max=8))
print(G(torch.zeros(1, 8)).shape)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "torch.Size([1, 3, 8, 8])" in result.stdout


def test_the_window_imports_without_torch():
    """torch loads on the inference thread after the window shows, never while the window's modules import."""
    code = "import sys; import studio.ui.main_window, studio.ui.app; print('torch' in sys.modules)"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
