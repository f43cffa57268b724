"""Atomic writes: a file is its old self or the complete new one, never a partial file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from studio.core.atomic import atomic_path, atomic_write, atomic_write_text

# -- atomic writes ----------------------------------------------------------------------------


def test_atomic_write_creates_file_without_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    atomic_write(target, lambda f: f.write(b"hello"))
    assert target.read_bytes() == b"hello"
    atomic_write_text(target, "again")
    assert target.read_text(encoding="utf-8") == "again"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old contents")

    def writer(stream) -> None:
        stream.write(b"new partial")
        raise RuntimeError("disk full halfway")

    with pytest.raises(RuntimeError, match="halfway"):
        atomic_write(target, writer)
    assert target.read_bytes() == b"old contents"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_path_cleans_up_and_creates_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "new.json"
    with pytest.raises(KeyError):
        with atomic_path(target) as temp:
            assert temp.parent == tmp_path and temp != target
            temp.write_text("{}", encoding="utf-8")
            raise KeyError("boom")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX")
def test_atomic_write_keeps_permissions_of_replaced_file(tmp_path: Path) -> None:
    target = tmp_path / "mode.txt"
    target.write_text("x", encoding="utf-8")
    os.chmod(target, 0o640)
    atomic_write_text(target, "y")
    assert (os.stat(target).st_mode & 0o777) == 0o640
