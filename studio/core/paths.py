"""Where the studio keeps its files.

User folders come from platformdirs (app name ``gan-art-studio``), e.g. on Linux
``~/.config/gan-art-studio``, ``~/.local/share/gan-art-studio`` and
``~/.cache/gan-art-studio``. Setting the environment variable ``STUDIO_HOME`` redirects all of
them into one folder (``$STUDIO_HOME/config``, ``/data``, ``/cache``), for tests and portable
installs. The variable is read on every call, so changing it takes effect immediately.

The user-folder functions create their folder on demand. The project functions point into the
source tree (or the unpacked desktop bundle, which keeps the same layout) and create nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = [
    "APP_NAME",
    "HOME_ENV",
    "studio_home",
    "config_dir",
    "data_dir",
    "cache_dir",
    "models_cache_dir",
    "library_db_path",
    "project_root",
    "bundled_models_dir",
    "default_network_path",
]

#: Application name used for the platform's user folders.
APP_NAME = "gan-art-studio"

#: Environment variable that, when set, holds every user folder of the studio.
HOME_ENV = "STUDIO_HOME"

_LIBRARY_DB_NAME = "library.sqlite3"


def studio_home() -> Path | None:
    """The ``STUDIO_HOME`` override as an absolute path, or None when it is unset or empty."""
    value = os.environ.get(HOME_ENV, "").strip()
    if not value:
        return None
    return Path(value).expanduser().absolute()


def _ensure(folder: Path) -> Path:
    """Create ``folder`` (and its parents) if needed and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def config_dir() -> Path:
    """Folder for settings (created on demand)."""
    home = studio_home()
    if home is not None:
        return _ensure(home / "config")
    return _ensure(platformdirs.user_config_path(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """Folder for the user's data such as the library database (created on demand)."""
    home = studio_home()
    if home is not None:
        return _ensure(home / "data")
    return _ensure(platformdirs.user_data_path(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Folder for files that can be downloaded or rebuilt again (created on demand)."""
    home = studio_home()
    if home is not None:
        return _ensure(home / "cache")
    return _ensure(platformdirs.user_cache_path(APP_NAME, appauthor=False))


def models_cache_dir() -> Path:
    """Folder for downloaded and converted networks, inside :func:`cache_dir` (created on demand)."""
    return _ensure(cache_dir() / "models")


def library_db_path() -> Path:
    """Path of the library's SQLite database in :func:`data_dir` (the folder is created, the
    file is not)."""
    return data_dir() / _LIBRARY_DB_NAME


def project_root() -> Path:
    """The folder that holds the ``studio`` package (the repository root, or the bundle root)."""
    return Path(__file__).resolve().parents[2]


def bundled_models_dir() -> Path:
    """The ``models/`` folder next to the ``studio`` package: bundled weights and model cards."""
    return project_root() / "models"


def icon_path() -> Path:
    """The studio's icon (SVG), for the window, the desktop entry and the bundles."""
    return project_root() / "resources" / "icons" / "gan-art-studio.svg"


def default_network_path() -> Path:
    """The bundled default generator (``--network default``)."""
    return bundled_models_dir() / "default-abstract.safetensors"
