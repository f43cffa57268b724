"""Tests for studio.core.paths: user folders, the STUDIO_HOME override and project folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.core import paths


def test_studio_home_redirects_every_user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "portable"
    monkeypatch.setenv("STUDIO_HOME", str(home))
    assert paths.studio_home() == home
    assert paths.config_dir() == home / "config"
    assert paths.data_dir() == home / "data"
    assert paths.cache_dir() == home / "cache"
    assert paths.models_cache_dir() == home / "cache" / "models"
    assert paths.library_db_path() == home / "data" / "library.sqlite3"


def test_folders_are_created_on_demand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "new"))
    assert not (tmp_path / "new").exists()
    for folder in (paths.config_dir(), paths.data_dir(), paths.cache_dir(), paths.models_cache_dir()):
        assert folder.is_dir()
    db = paths.library_db_path()
    assert db.parent.is_dir() and not db.exists()


def test_relative_studio_home_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STUDIO_HOME", "rel")
    assert paths.config_dir() == tmp_path / "rel" / "config"
    assert paths.config_dir().is_absolute()


def test_without_override_uses_platformdirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUDIO_HOME", raising=False)
    calls: list[tuple[str, str]] = []

    def fake(kind: str):
        def where(appname: str, appauthor: object = None) -> Path:
            calls.append((kind, appname))
            return tmp_path / kind / appname

        return where

    # never touch the real user folders: answer for platformdirs
    for kind in ("config", "data", "cache"):
        monkeypatch.setattr(paths.platformdirs, f"user_{kind}_path", fake(kind))
    assert paths.studio_home() is None
    assert paths.config_dir() == tmp_path / "config" / "gan-art-studio"
    assert paths.data_dir() == tmp_path / "data" / "gan-art-studio"
    assert paths.cache_dir() == tmp_path / "cache" / "gan-art-studio"
    assert paths.models_cache_dir() == tmp_path / "cache" / "gan-art-studio" / "models"
    assert paths.library_db_path().parent == paths.data_dir()
    assert all(folder.is_dir() for folder in (paths.config_dir(), paths.data_dir(), paths.cache_dir()))
    assert {name for _, name in calls} == {"gan-art-studio"}


def test_empty_override_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_HOME", "  ")
    assert paths.studio_home() is None


def test_project_folders() -> None:
    root = paths.project_root()
    assert (root / "studio" / "core" / "paths.py").is_file()
    assert paths.bundled_models_dir() == root / "models"
