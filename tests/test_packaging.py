"""The desktop bundle's list of contents (packaging/contents.py, read by packaging/studio.spec) keeps up
with the studio: every third-party package it imports is in, the files it needs exist, and nothing of
the tests, the build tools or CUDA goes in. (The bundle itself is built and smoke-tested outside
`make test`: `make bundle`, `make smoke`.)"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _contents():
    spec = importlib.util.spec_from_file_location("bundle_contents", ROOT / "packaging" / "contents.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _third_party_imports() -> set[str]:
    names = set()
    for path in (ROOT / "studio").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names and name != "studio"}


def test_every_package_the_studio_imports_is_bundled_or_knowingly_left_out():
    contents = _contents()
    missing = _third_party_imports() - set(contents.THIRD_PARTY) - set(contents.OPTIONAL)
    assert not missing, f"the studio imports {sorted(missing)}, which packaging/contents.py does not list"
    assert not set(contents.THIRD_PARTY) & set(contents.EXCLUDES)


def test_the_bundled_files_exist_and_hold_no_test_data():
    contents = _contents()
    for source, target in contents.DATA:
        assert (ROOT / source).exists(), source
        assert not source.startswith(("tests", "../")) and "golden" not in source
    assert ("models/default-abstract.safetensors", "models") in contents.DATA


def test_nothing_of_the_tests_the_build_or_cuda_goes_in():
    contents = _contents()
    for name in ("pytest", "hypothesis", "importlinter", "nvidia", "triton", "tkinter"):
        assert name in contents.EXCLUDES
    for pattern in ("*libcudnn*", "*libcublas*", "*/include/*", "*/tests/*"):
        assert pattern in contents.DROP
    spec = (ROOT / "packaging" / "studio.spec").read_text()
    assert "contents.DATA" in spec and "contents.EXCLUDES" in spec and "contents.DROP" in spec
