"""The catalogue of well-known public networks (``models/catalog.json``) behind "Get models...".

Each entry names a network, its URL, licence, architecture and resolution, and, when known, its
size and sha256 (which :func:`studio.hub.download.download` then checks).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from studio.core.paths import bundled_models_dir
from studio.hub.download import SHA256_RE, is_http_url

#: The ``version`` a ``catalog.json`` must declare for this reader.
CATALOG_VERSION = 1


@dataclass
class CatalogEntry:
    """One downloadable network of the "Get models..." catalogue."""

    name: str                          # short unique label shown in the list ("FFHQ 1024")
    url: str                           # direct http(s) link to the network file
    resolution: int                    # image size in pixels (square)
    licence: str                       # licence of the weights, in words
    description: str                   # one or two sentences for the artist
    architecture: str                  # generator kind, e.g. "stylegan2"
    sha256: str | None = None          # lower-case hex digest when known for certain
    size: int | None = None            # file size in bytes when known for certain
    source_page: str | None = None     # page describing the model (for credits and licence)


_REQUIRED_TEXT = ("name", "url", "licence", "description", "architecture")


def load_catalog(path: str | os.PathLike[str] | None = None) -> list[CatalogEntry]:
    """Read and validate a model catalogue (by default the bundled ``models/catalog.json``).

    The file is ``{"version": 1, "models": [{...}, ...]}`` with the fields of
    :class:`CatalogEntry`. Raises ValueError with a message naming the file, the entry and the
    field for anything missing, mistyped, unknown or duplicated.
    """
    file = Path(path) if path is not None else bundled_models_dir() / "catalog.json"
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the model catalogue '{file}': {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"model catalogue '{file}' is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError(f"model catalogue '{file}' must hold a JSON object with 'version' and 'models'")
    version = data.get("version")
    if version != CATALOG_VERSION or isinstance(version, bool):
        raise ValueError(f"model catalogue '{file}' has version {version!r}; this studio reads version {CATALOG_VERSION}")
    models = data.get("models")
    if not isinstance(models, list):
        raise ValueError(f"model catalogue '{file}' needs a 'models' list")
    entries: list[CatalogEntry] = []
    seen: set[str] = set()
    for index, raw in enumerate(models, start=1):
        entry = _catalog_entry(raw, f"model catalogue '{file}', entry {index}")
        if entry.name in seen:
            raise ValueError(f"model catalogue '{file}', entry {index}: the name '{entry.name}' appears twice")
        seen.add(entry.name)
        entries.append(entry)
    return entries


def _catalog_entry(raw: Any, where: str) -> CatalogEntry:
    """Validate one catalogue record and build its :class:`CatalogEntry`."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be a JSON object, not {type(raw).__name__}")
    if isinstance(raw.get("name"), str) and raw["name"].strip():
        where = f"{where} ('{raw['name']}')"
    known = {f.name for f in fields(CatalogEntry)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    for key in _REQUIRED_TEXT:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}: '{key}' must be a non-empty text")
    if not is_http_url(raw["url"]):
        raise ValueError(f"{where}: 'url' must be an http:// or https:// link, not {raw['url']!r}")
    resolution = raw.get("resolution")
    if not _is_positive_int(resolution):
        raise ValueError(f"{where}: 'resolution' must be a positive whole number of pixels, not {resolution!r}")
    sha256 = raw.get("sha256")
    if sha256 is not None and not (isinstance(sha256, str) and SHA256_RE.fullmatch(sha256.lower())):
        raise ValueError(f"{where}: 'sha256' must be 64 hexadecimal digits or null, not {sha256!r}")
    size = raw.get("size")
    if size is not None and not _is_positive_int(size):
        raise ValueError(f"{where}: 'size' must be a positive number of bytes or null, not {size!r}")
    page = raw.get("source_page")
    if page is not None and not (isinstance(page, str) and is_http_url(page)):
        raise ValueError(f"{where}: 'source_page' must be an http:// or https:// link or null, not {page!r}")
    return CatalogEntry(
        name=raw["name"].strip(),
        url=raw["url"].strip(),
        resolution=resolution,
        licence=raw["licence"].strip(),
        description=raw["description"].strip(),
        architecture=raw["architecture"].strip(),
        sha256=sha256.lower() if sha256 is not None else None,
        size=size,
        source_page=page,
    )


def _is_positive_int(value: Any) -> bool:
    """True for ints > 0 (bools, which JSON ``true`` becomes, do not count)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
