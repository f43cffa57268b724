"""User settings: a small versioned JSON file in the config folder (no Qt).

Window geometry and other UI state live apart from these (QSettings in the UI); settings are
what a user chose on purpose. Old files are migrated forward; a damaged file is set aside and
defaults are used, never a crash.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from studio.core import paths
from studio.core.atomic import atomic_write_text

SETTINGS_VERSION = 1
MAX_RECENT = 10

# migrations[v] turns a version-v dict into version v+1
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


@dataclass
class Settings:
    recent_models: list[str] = field(default_factory=list)
    device: str = "auto"             # auto, cpu, cuda, mps
    last_model: str | None = None
    clip: str = "default"            # which CLIP scores images: default, NAME:TAG or a checkpoint
    clip_config: str | None = None   # a checkpoint's architecture (config JSON or model name)
    backend: str = "torch"           # what renders: torch, onnx (ONNX Runtime) or auto

    def add_recent(self, source: str) -> None:
        self.recent_models = [source] + [m for m in self.recent_models if m != source]
        del self.recent_models[MAX_RECENT:]
        self.last_model = source


def settings_path() -> Path:
    return paths.config_dir() / "settings.json"


def load_settings(path: Path | None = None) -> Settings:
    path = path or settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError):
        _set_aside(path)
        return Settings()
    version = data.pop("version", 0) if isinstance(data, dict) else None
    if not isinstance(version, int) or version > SETTINGS_VERSION:
        return Settings()  # from a newer studio: leave the file alone, use defaults
    while version < SETTINGS_VERSION and version in MIGRATIONS:
        data = MIGRATIONS[version](data)
        version += 1
    known = {k: v for k, v in data.items() if k in Settings.__dataclass_fields__}
    try:
        return Settings(**known)
    except TypeError:
        return Settings()


def save_settings(settings: Settings, path: Path | None = None) -> None:
    payload: dict[str, Any] = {"version": SETTINGS_VERSION, **asdict(settings)}
    atomic_write_text(path or settings_path(), json.dumps(payload, indent=2))


def _set_aside(path: Path) -> None:
    try:
        path.rename(path.with_name(f"{path.name}.damaged-{int(time.time())}"))
    except OSError:
        pass
