"""Opening models: a network file or URL, and the model a recipe names (one rule for every front end).

:func:`find_model` is how ``studio export`` re-renders an image and how the window restores a
dropped or opened image: the candidates are the file the user gave, the path the recipe
remembers, the library's last known path for the fingerprint, and the bundled default model
when the recipe was made with it; each is loaded and must have the recipe's fingerprint (a
file that moved or changed is never taken for the one the recipe means).

An image from elsewhere is untrusted, and so is the path written inside its recipe: it is a hint,
not an instruction. It is opened only when it is a model the studio already knows (one the
artist opened before: the recent models, the library, the bundled default); otherwise the search
says which model the image needs and the artist chooses the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from studio.core import paths
from studio.core.errors import StudioError
from studio.gan.formats import LoadedNetwork, load_network, resolve_network_path
from studio.gan.mixing import layer_scales
from studio.gan.recipe import Recipe

ProgressFn = Callable[[int, int], None]

#: How the file the artist chose (``--network``, or the window's file dialog) is named in notes.
GIVEN = "the file you chose"


@dataclass
class ModelSearch:
    """The outcome of :func:`find_model`: the network (or None) and what was tried, for the user."""

    network: LoadedNetwork | None
    notes: list[str] = field(default_factory=list)



def _library_path(fingerprint: str, library: Any | None, notes: list[str]) -> str | None:
    """The library's last known path for ``fingerprint``; a damaged library is a note, not an error.

    ``library`` is an open :class:`~studio.library.Library`, the path of one (a thread that does
    not own the window's connection opens its own), or None for the user's library.
    """
    try:
        if library is None or isinstance(library, (str, os.PathLike)):
            path = Path(library) if library is not None else paths.library_db_path()
            if not path.exists():
                return None
            from studio.library.store import Library

            with Library(path) as own:
                record = own.model(fingerprint)
        else:
            record = library.model(fingerprint)
    except Exception as exc:  # noqa: BLE001 - a damaged library must not stop an export
        notes.append(f"could not look the model up in the library: {exc}")
        return None
    return record.last_path if record is not None and record.last_path else None


def _resolved(path: str) -> str:
    try:
        return str(Path(path).expanduser().resolve())
    except (OSError, RuntimeError, ValueError):
        return path


def known_model_paths(library: Any | None = None) -> set[str]:
    """Model files the artist has opened before: the recent models, the library's, the default."""
    from studio.core.settings import load_settings

    known = {_resolved(str(paths.default_network_path()))}
    try:
        known |= {_resolved(source) for source in load_settings().recent_models}
    except Exception:  # noqa: BLE001 - unreadable settings know nothing
        pass
    try:
        if library is None or isinstance(library, (str, os.PathLike)):
            path = Path(library) if library is not None else paths.library_db_path()
            if path.exists():
                from studio.library.store import Library

                with Library(path) as own:
                    records = own.models()
            else:
                records = []
        else:
            records = library.models()
        known |= {_resolved(r.last_path) for r in records if r.last_path}
    except Exception:  # noqa: BLE001 - a damaged library knows nothing
        pass
    return known


def model_candidates(recipe: Recipe, *, given: str | None = None, library: Any | None = None,
                     notes: list[str] | None = None) -> list[tuple[str, str]]:
    """(where, path) pairs to try for ``recipe``'s model, in order: given, recipe, library, default.

    The recipe's own path takes part only when it is a model the studio knows (see the module
    docstring); otherwise ``notes`` says so."""
    notes = [] if notes is None else notes
    candidates: list[tuple[str, str]] = []
    if given:
        candidates.append((GIVEN, given))
    if recipe.model.path:
        if _resolved(recipe.model.path) in known_model_paths(library):
            candidates.append(("the recipe's model path", recipe.model.path))
        else:
            notes.append(f"the image names {recipe.model.path}, a file the studio has not opened before; "
                         "open it yourself if you trust it")
    known = _library_path(recipe.model.fingerprint, library, notes)
    if known:
        candidates.append(("the library", known))
    if recipe.model.name == paths.default_network_path().stem:   # made with the default model elsewhere
        candidates.append(("the bundled default model", "default"))
    return candidates


def find_model(recipe: Recipe, *, given: str | None = None, library: Any | None = None,
               device: Any = "cpu", with_discriminator: bool = False) -> ModelSearch:
    """Load the network ``recipe`` names, trying :func:`model_candidates` in turn.

    ``library`` is an open :class:`studio.library.Library`, the path of one, or None to read the
    user's own when it exists. Files that do not exist are passed over silently; files that do
    not load, or load with another fingerprint, leave a note.
    """
    notes: list[str] = []
    wanted = recipe.model.fingerprint
    seen: set[str] = set()
    for where, source in model_candidates(recipe, given=given, library=library, notes=notes):
        try:
            resolved = str(resolve_network_path(source))
        except StudioError as exc:
            notes.append(f"{where}: {exc}")
            continue
        if resolved in seen or not Path(resolved).is_file():
            continue
        seen.add(resolved)
        try:
            network = load_network(resolved, device=device, with_discriminator=with_discriminator)
        except StudioError as exc:
            notes.append(f"{where} ({resolved}) could not be loaded: {exc}")
            continue
        if network.fingerprint == wanted:
            return ModelSearch(network, notes)
        if where == GIVEN:
            notes.append(f"{resolved} is not the model the recipe names "
                         f"({recipe.model.name or 'unnamed'}, fingerprint {wanted[:12]}...); looking elsewhere")
        else:
            notes.append(f"{where} ({resolved}) holds another model now (fingerprint {network.fingerprint[:12]}...)")
    return ModelSearch(None, notes)


def open_source(source: str, *, progress: ProgressFn | None = None,
                should_cancel: Callable[[], bool] | None = None,
                warn: Callable[[str], None] | None = None) -> Path:
    """The local file a model argument means: ``default``, a path, or a URL (downloaded into the cache;
    ``warn`` hears when the file differs from the one first downloaded from that URL)."""
    from studio.hub.download import is_url, resolve_model_source

    if is_url(source):
        return resolve_model_source(source, progress=progress, should_cancel=should_cancel, warn=warn)
    return resolve_network_path(source)


def model_info(renderer: Any) -> dict[str, Any]:
    """Plain facts about an open model for a front end (no torch objects)."""
    net, G = renderer.network, renderer.G
    return {
        "name": net.name, "path": str(net.path), "format": net.format, "fingerprint": net.fingerprint,
        "kind": net.kind, "variant": getattr(G.config, "variant", net.kind), "has_view": renderer.has_view,
        "can_tile": renderer.can_tile, "can_widen": renderer.can_widen, "blend_resolutions": renderer.blend_resolutions,
        "resolution": G.img_resolution, "channels": G.img_channels, "num_ws": G.num_ws,
        "z_dim": G.z_dim, "w_dim": G.w_dim, "c_dim": G.c_dim, "has_discriminator": net.D is not None,
        "params": sum(p.numel() for p in G.parameters()), "device": str(renderer.device),
        "backend": getattr(renderer, "backend", "PyTorch"),
        "class_names": net.class_names, "class_keywords": net.class_keywords,
        "layer_scales": layer_scales(G),
    }
