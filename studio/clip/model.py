"""Which CLIP to use and loading it safely with open_clip (the scorer itself is :mod:`studio.clip.scorer`).

One text names the CLIP everywhere (the ``clip`` setting, ``--clip SPEC`` on the commands that
score images); :meth:`ClipSpec.parse` reads it:

``default``
    The small CLIP bundled in ``models/default-clip/`` (:data:`DEFAULT_CLIP_DIR`): a
    ``config.json`` (an open_clip model config), ``weights.safetensors`` and optionally
    ``vocabulary.txt`` (the words its captions used, one per line). Until that folder exists
    loading ``default`` says so and what to use instead.
``NAME:TAG``
    An open_clip architecture and pretrained tag, e.g. ``ViT-B-32:laion2b_s34b_b79k``. The weights
    come from the Hugging Face cache in :func:`clip_cache_dir`. The studio runs offline unless the
    user set ``HF_HUB_OFFLINE`` themselves (``HF_HUB_OFFLINE=0`` lets open_clip download into that
    cache); a tag that is not cached yet gives a message naming the file and where it goes.
``PATH``
    A checkpoint (``.safetensors``, or ``.pt`` / ``.pth`` / ``.bin`` read with
    ``torch.load(weights_only=True)``: no code in it is ever run) plus its architecture: ``config``
    is an open_clip model name (``ViT-B-32``) or a JSON config file. Without one, an
    ``open_clip_config.json`` or ``config.json`` beside the file is used. ``PATH`` may also be a
    folder holding a config and one weights file (e.g. a Hugging Face open_clip repository).

:func:`load_clip` turns a spec into a :class:`~studio.clip.scorer.ClipScorer`; every problem is a :class:`ClipError`
with one line for the user. Loading belongs on the inference thread: open_clip (and timm,
torchvision) is imported only when the first CLIP is loaded, and nothing here downloads
unless the user allowed it with ``HF_HUB_OFFLINE=0``.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib
import json
import logging
import os
import pickle
import posixpath
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import torch

from studio.clip import vocabulary as _vocab
from studio.clip.scorer import ClipScorer
from studio.core import paths
from studio.core.device import pick_device
from studio.core.errors import StudioError

if TYPE_CHECKING:
    from types import ModuleType

__all__ = [
    "DEFAULT_CLIP_DIR",
    "ClipError",
    "ClipSpec",
    "clip_cache_dir",
    "import_open_clip",
    "load_clip",
    "read_weights",
]

log = logging.getLogger(__name__)

#: The bundled default CLIP: ``config.json`` + ``weights.safetensors`` (+ ``vocabulary.txt``,
#: ``prompts.txt``; see :mod:`studio.clip.vocabulary`).
DEFAULT_CLIP_DIR: Path = _vocab.DEFAULT_CLIP_DIR

#: File names inside :data:`DEFAULT_CLIP_DIR`.
DEFAULT_CONFIG_NAME = "config.json"
DEFAULT_WEIGHTS_NAME = "weights.safetensors"
VOCABULARY_NAME = _vocab.VOCABULARY_FILE

#: What to suggest when a CLIP is missing.
EXAMPLE_PRETRAINED = _vocab.LARGER_CLIP

_WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")
_CONFIG_NAMES = ("open_clip_config.json", "config.json")
# Weight files looked for in a CLIP folder, best first (open_clip's and Hugging Face's names).
_FOLDER_WEIGHTS = ("weights.safetensors", "open_clip_model.safetensors", "open_clip_pytorch_model.safetensors",
                   "model.safetensors", "open_clip_pytorch_model.bin", "pytorch_model.bin")
# Files open_clip fetches for a Hugging Face repository without a file name, best first.
_HF_DEFAULT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
_TRUE = ("1", "true", "yes", "on")
# Image preprocessing settings taken from pretrained tags and open_clip_config.json files.
_PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode", "fill_color")

_open_clip: ModuleType | None = None
_torchvision_stub: torch.library.Library | None = None


class ClipError(StudioError):
    """A CLIP could not be named, found or loaded; the message is one line for the user."""


# ---------------------------------------------------------------------------------------------
# Importing open_clip (offline by default)
# ---------------------------------------------------------------------------------------------


def clip_cache_dir() -> Path:
    """Where named pretrained CLIP weights are cached (open_clip's ``cache_dir``), created on demand."""
    folder = paths.cache_dir() / "clip"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _prepare_environment() -> None:
    """Keep the Hugging Face hub offline and quiet unless the user chose otherwise.

    Must run before ``huggingface_hub`` is imported (open_clip imports it), since the hub reads
    these variables once at import time.
    """
    if "HF_HUB_OFFLINE" not in os.environ:
        os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def _import_torchvision() -> None:
    """Import torchvision, working around a build whose compiled operators cannot load.

    A torchvision wheel built for another torch (typically PyPI's CUDA wheel beside a CPU-only
    torch) fails to import at all: it registers fake kernels for ``torchvision::nms`` and
    ``torchvision::qnms`` without checking that its C++ extension loaded. open_clip needs only
    torchvision's pure-Python parts (transforms, ``FrozenBatchNorm2d``), so in that one case the
    two operator schemas are declared here and the import is retried; torchvision's detection
    operators stay unusable, which the studio never calls.
    """
    global _torchvision_stub
    try:
        importlib.import_module("torchvision")
        return
    except ImportError as exc:
        raise ClipError(f"CLIP needs torchvision, which is not installed ({exc}); "
                        "install the torchvision that matches your torch") from None
    except RuntimeError as exc:
        if "torchvision::" not in str(exc) or _torchvision_stub is not None:
            raise ClipError(f"torchvision does not match this torch {torch.__version__} ({exc}); "
                            "reinstall the torchvision built for it") from None
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    stub = torch.library.Library("torchvision", "DEF")
    stub.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    stub.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _torchvision_stub = stub   # keep the definitions alive for the life of the process
    log.info("torchvision's compiled operators do not load with torch %s; CLIP uses only its "
             "Python parts", torch.__version__)
    try:
        importlib.import_module("torchvision")
    except (ImportError, RuntimeError) as exc:
        raise ClipError(f"torchvision does not match this torch {torch.__version__} ({exc}); "
                        "reinstall the torchvision built for it") from None


def import_open_clip() -> ModuleType:
    """The ``open_clip`` module, imported once with the studio's offline environment.

    Raises:
        ClipError: when open_clip or a working torchvision is not installed.
    """
    global _open_clip
    if _open_clip is None:
        _prepare_environment()
        _import_torchvision()
        try:
            import open_clip
        except ImportError as exc:
            raise ClipError(f"CLIP needs the open_clip_torch package ({exc}); "
                            "install it with `pip install open_clip_torch`") from None
        _open_clip = open_clip
    return _open_clip


@contextlib.contextmanager
def quiet_open_clip() -> Iterator[None]:
    """Silence open_clip's root-logger notes (e.g. "initialized randomly" before our weights
    are loaded) so that the CLI prints nothing the user did not ask for."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


# ---------------------------------------------------------------------------------------------
# The spec
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClipSpec:
    """Which CLIP to use; see the module docstring for the three kinds.

    Attributes:
        kind: ``"default"``, ``"pretrained"`` or ``"checkpoint"``.
        name: the open_clip model name (pretrained), or the architecture name given as
            ``config`` for a checkpoint; None otherwise.
        pretrained: the open_clip pretrained tag (pretrained only).
        path: the checkpoint file or folder (checkpoint only).
        config: what was given as the checkpoint's architecture: a JSON path or a model name.
    """

    kind: str
    name: str | None = None
    pretrained: str | None = None
    path: Path | None = None
    config: str | None = None

    @classmethod
    def parse(cls, spec: str, config: str | None = None) -> ClipSpec:
        """Read ``default``, ``NAME:TAG`` or a checkpoint path (with ``config`` for a checkpoint).

        Only the text is checked here (nothing is imported or loaded); a missing file is
        reported by :func:`load_clip`.

        Raises:
            ClipError: for text that is none of the three, or ``config`` without a checkpoint.
        """
        text = str(spec if spec is not None else "").strip()
        config = str(config).strip() if config is not None and str(config).strip() else None
        if not text or text.lower() == "default":
            if config is not None:
                raise ClipError("--clip-config goes with a checkpoint file (--clip PATH), not the default CLIP")
            return cls("default")
        if text.lower().startswith(("hf-hub:", "local-dir:")):
            raise ClipError(f"--clip {text}: download the repository's open_clip_config.json and weights into a "
                            "folder and give that folder as --clip PATH")
        path = Path(text).expanduser()
        if _looks_like_path(text, path):
            name = None
            if config is not None and not _is_json_config(config):
                name = config
            return cls("checkpoint", name=name, path=path, config=config)
        if ":" in text:
            name, _, tag = text.partition(":")
            name, tag = name.strip(), tag.strip()
            if not name or not tag:
                raise ClipError(f"--clip {text}: write an open_clip model and tag as NAME:TAG, "
                                f"e.g. {EXAMPLE_PRETRAINED}")
            if config is not None:
                raise ClipError("--clip-config goes with a checkpoint file (--clip PATH), "
                                f"not the pretrained {name}:{tag}")
            return cls("pretrained", name=name, pretrained=tag)
        raise ClipError(f"--clip {text}: no such file; give 'default', an open_clip NAME:TAG "
                        f"(e.g. {EXAMPLE_PRETRAINED}) or a checkpoint file")

    def describe(self) -> str:
        """A short human label, e.g. ``ViT-B-32 (laion2b_s34b_b79k)``."""
        if self.kind == "default":
            return "default CLIP"
        if self.kind == "pretrained":
            return f"{self.name} ({self.pretrained})"
        label = self.path.name if self.path is not None else "checkpoint"
        if self.config:
            label += f" ({Path(self.config).name if _is_json_config(self.config) else self.config})"
        return label

    def to_text(self) -> str:
        """The spec as it would be typed after ``--clip`` (the config goes to ``--clip-config``)."""
        if self.kind == "default":
            return "default"
        if self.kind == "pretrained":
            return f"{self.name}:{self.pretrained}"
        return str(self.path)


def _looks_like_path(text: str, path: Path) -> bool:
    if path.exists() or path.suffix.lower() in _WEIGHT_SUFFIXES:
        return True
    if "/" in text or "\\" in text or text.startswith(("~", ".")):
        return True
    return len(text) > 2 and text[1] == ":" and text[0].isalpha() and text[2] in "/\\"   # C:\...


def _is_json_config(config: str) -> bool:
    return config.lower().endswith(".json") or Path(config).expanduser().is_file()


# ---------------------------------------------------------------------------------------------
# The scorer
# ---------------------------------------------------------------------------------------------



# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def load_clip(spec: ClipSpec | str, device: str | torch.device = "cpu", *, config: str | None = None) -> ClipScorer:
    """Load the CLIP ``spec`` names onto ``device`` ("cpu", "cuda", "auto", ...).

    ``config`` is used only when ``spec`` is text (as ``--clip-config``).

    Raises:
        ClipError: with one clear line for any problem (missing files, offline without the
            weights, unsafe or unreadable checkpoints, architecture mismatches).
    """
    if not isinstance(spec, ClipSpec):
        spec = ClipSpec.parse(spec, config=config)
    dev = _device(device)
    if spec.kind == "default":
        return _load_default(dev)
    if spec.kind == "pretrained":
        return _load_pretrained(spec, dev)
    if spec.kind == "checkpoint":
        return _load_checkpoint(spec, dev)
    raise ClipError(f"unknown CLIP kind {spec.kind!r}")


def _device(device: str | torch.device) -> torch.device:
    try:
        return pick_device(device)
    except ValueError as exc:
        raise ClipError(str(exc)) from None


def _load_default(device: torch.device) -> ClipScorer:
    folder = DEFAULT_CLIP_DIR
    config, weights = folder / DEFAULT_CONFIG_NAME, folder / DEFAULT_WEIGHTS_NAME
    if not folder.is_dir() or not (config.is_file() or weights.is_file()):
        raise ClipError(f"the default CLIP is not bundled with this version yet (it will live in {folder}); "
                        f"choose another with --clip NAME:TAG (e.g. {EXAMPLE_PRETRAINED}) or "
                        "--clip CHECKPOINT --clip-config ARCH, or set 'clip' in the settings")
    for needed in (config, weights):
        if not needed.is_file():
            raise ClipError(f"the default CLIP in {folder} is incomplete: {needed.name} is missing")
    model_cfg, preprocess = _read_config_json(config)
    return _build(register_config(model_cfg), weights, device, name=ClipSpec("default").describe(),
                  preprocess=preprocess, vocabulary=_read_vocabulary(folder / VOCABULARY_NAME))


def _load_checkpoint(spec: ClipSpec, device: torch.device) -> ClipScorer:
    path = spec.path
    assert path is not None
    vocabulary = None
    if path.is_dir():
        weights = next((path / n for n in _FOLDER_WEIGHTS if (path / n).is_file()), None)
        if weights is None:
            found = sorted(p.name for p in path.iterdir() if p.suffix.lower() in _WEIGHT_SUFFIXES)
            if len(found) != 1:
                raise ClipError(f"{path} holds {'no' if not found else 'several'} CLIP weight files"
                                f"{': ' + ', '.join(found) if found else ''}; give the file itself as --clip PATH")
            weights = path / found[0]
        vocabulary = _read_vocabulary(path / VOCABULARY_NAME)
    elif path.is_file():
        weights = path
        vocabulary = _read_vocabulary(path.parent / VOCABULARY_NAME)   # as the Evolve panel reads it
    else:
        raise ClipError(f"CLIP checkpoint not found: {path}")
    config = spec.config
    if config is None:
        beside = weights.parent
        found = next((beside / n for n in _CONFIG_NAMES if (beside / n).is_file()), None)
        if found is None:
            raise ClipError(f"say which architecture {weights.name} has: --clip-config CONFIG.json "
                            "or an open_clip model name such as ViT-B-32")
        config = str(found)
    preprocess: dict[str, Any] = {}
    if _is_json_config(config):
        model_cfg, preprocess = _read_config_json(Path(config).expanduser())
        arch = register_config(model_cfg)
    else:
        arch = _known_model_name(config)
    return _build(arch, weights, device, name=spec.describe(), preprocess=preprocess, vocabulary=vocabulary)


def _load_pretrained(spec: ClipSpec, device: torch.device) -> ClipScorer:
    open_clip = import_open_clip()
    name, tag = _known_model_name(spec.name or ""), spec.pretrained or ""
    tags = open_clip.list_pretrained_tags_by_model(name)
    cfg = open_clip.get_pretrained_cfg(name, tag)
    if not cfg:
        close = difflib.get_close_matches(tag, tags, n=1)
        hint = f"did you mean {name}:{close[0]}? " if close else ""
        listed = ", ".join(tags[:8]) + (", ..." if len(tags) > 8 else "")
        raise ClipError(f"open_clip has no pretrained tag {tag!r} for {name}; {hint}"
                        f"its tags: {listed or 'none'}")
    weights = _pretrained_file(name, tag, cfg)
    preprocess = {k: cfg[k] for k in _PREPROCESS_KEYS if k in cfg}
    return _build(name, weights, device, name=spec.describe(), preprocess=preprocess,
                  quick_gelu=bool(cfg.get("quick_gelu", False)))


def _hf_location(cfg: dict) -> tuple[str, list[str]]:
    """(repository id, candidate file names, best first) that open_clip would fetch for a
    pretrained cfg: ``hf_hub`` is ``org/repo/`` (the default file) or ``org/repo/file.bin``,
    and a ``.safetensors`` twin is preferred when it exists."""
    repo, filename = posixpath.split(str(cfg.get("hf_hub", "")))
    if not filename:
        return repo, list(_HF_DEFAULT_FILES)
    names = [filename]
    if filename.endswith((".bin", ".pth")):
        names.insert(0, filename[:-4] + ".safetensors")
    return repo, names


def _pretrained_file(name: str, tag: str, cfg: dict) -> Path:
    """The local weights file of a pretrained tag: from the cache, or downloaded when online."""
    cache = clip_cache_dir()
    arch = name   # what to give as --clip-config for the same weights in a file
    if cfg.get("quick_gelu") and not name.endswith("-quickgelu") \
            and f"{name}-quickgelu" in import_open_clip().list_models():
        arch = f"{name}-quickgelu"
    if cfg.get("file"):
        return Path(cfg["file"])
    if cfg.get("hf_hub"):
        repo, names = _hf_location(cfg)
        from huggingface_hub import try_to_load_from_cache

        for filename in names:
            found = try_to_load_from_cache(repo, filename, cache_dir=str(cache))
            if isinstance(found, str) and Path(found).is_file():
                return Path(found)
        where = f"{names[0]} from the Hugging Face repository {repo}"
        fetch = f"`hf download {repo} {names[0]} --cache-dir {cache}`"
    elif cfg.get("url"):
        target = cache / os.path.basename(cfg["url"])
        if target.is_file():
            return target
        where = f"{os.path.basename(cfg['url'])} ({cfg['url']})"
        fetch = f"put it in {cache}"
    else:
        raise ClipError(f"open_clip does not say where the weights of {name}:{tag} come from")
    if _offline():
        raise ClipError(f"the weights of CLIP {name}:{tag} are not in the cache {cache} and the studio is "
                        f"offline: fetch {where} ({fetch}, or set HF_HUB_OFFLINE=0 to let the studio download "
                        f"it), or download the file anywhere and use --clip FILE --clip-config {arch}")
    open_clip = import_open_clip()
    try:
        with quiet_open_clip():
            return Path(open_clip.download_pretrained(cfg, cache_dir=str(cache)))
    except Exception as exc:  # noqa: BLE001  (network, hub and file errors of every kind)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClipError(f"could not download the weights of CLIP {name}:{tag} ({first[:200]}); fetch {where} "
                        f"({fetch}) or use a local file with --clip FILE --clip-config {arch}") from None


def _known_model_name(name: str) -> str:
    open_clip = import_open_clip()
    models = open_clip.list_models()
    if name in models:
        return name
    cleaned = name.replace("/", "-")
    if cleaned in models:
        return cleaned
    close = difflib.get_close_matches(name, models, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise ClipError(f"open_clip has no model named {name!r}{hint}; its names include ViT-B-32, ViT-B-16, ViT-L-14")


def _read_config_json(path: Path) -> tuple[dict, dict]:
    """(model config, preprocess config) from a bare open_clip model config or an
    ``open_clip_config.json`` (``{"model_cfg": ..., "preprocess_cfg": ...}``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClipError(f"CLIP config not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise ClipError(f"cannot read the CLIP config {path}: {exc}") from None
    preprocess: dict = {}
    if isinstance(data, dict) and isinstance(data.get("model_cfg"), dict):
        preprocess = data.get("preprocess_cfg") or {}
        data = data["model_cfg"]
    if not isinstance(data, dict) or not all(k in data for k in ("embed_dim", "vision_cfg", "text_cfg")):
        raise ClipError(f"{path.name} is not an open_clip model config (it needs embed_dim, vision_cfg and text_cfg)")
    if not isinstance(preprocess, dict):
        preprocess = {}
    return data, {k: v for k, v in preprocess.items() if k in _PREPROCESS_KEYS}


def register_config(model_cfg: dict) -> str:
    """Register an architecture with open_clip under a name unique to its content."""
    open_clip = import_open_clip()
    text = json.dumps(model_cfg, sort_keys=True)
    name = "studio-clip-" + hashlib.sha256(text.encode()).hexdigest()[:16]
    if name in open_clip.list_models():
        return name
    folder = clip_cache_dir() / "configs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    if not path.is_file():
        from studio.core.atomic import atomic_write_text

        atomic_write_text(path, text)
    open_clip.add_model_config(path)
    return name


def _read_vocabulary(path: Path) -> set[str] | None:
    try:
        lines = _vocab.read_lines(path)
    except (OSError, ValueError) as exc:
        raise ClipError(f"cannot read the CLIP vocabulary {path}: {exc}") from None
    return None if lines is None else {line.lower() for line in lines}


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A CLIP state dict from ``path`` without running any code in it.

    ``.safetensors`` is read with safetensors; anything else with ``torch.load(weights_only=True)``
    (a pickle referring to anything but tensors and plain containers is refused). Training
    checkpoints that wrap the weights in ``{"state_dict": ...}`` and ``module.`` prefixes are
    unwrapped.
    """
    if path.suffix.lower() in (".npz", ".npy"):
        raise ClipError(f"{path.name}: big_vision .npz weights are not supported; use open_clip .safetensors weights")
    if path.suffix.lower() == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state = load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise ClipError(f"cannot read the CLIP weights {path.name}: {exc}") from None
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            raise ClipError(f"{path.name} was refused: it holds objects other than plain weights (nothing from "
                            "it was run); use a .safetensors file") from None
        except (OSError, RuntimeError, EOFError, ValueError, TypeError, AttributeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClipError(f"cannot read the CLIP weights {path.name}: {first[:200]}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    elif isinstance(state, dict) and isinstance(state.get("model"), dict) and "epoch" in state:
        state = state["model"]
    if not isinstance(state, dict) or not state or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ClipError(f"{path.name} is not a CLIP state dict (expected names mapped to tensors)")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _fit_state_dict(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Small, well-known differences between open_clip checkpoints and the built model."""
    open_clip = import_open_clip()
    if "positional_embedding" in state and not hasattr(model, "positional_embedding"):
        convert = getattr(getattr(open_clip, "model", None), "convert_to_custom_text_state_dict", None)
        if convert is not None:
            state = convert(state)
    own = model.state_dict()
    for key in ("logit_scale", "logit_bias"):
        if key in state and key in own and state[key].shape != own[key].shape \
                and state[key].numel() == own[key].numel():
            state[key] = state[key].reshape(own[key].shape)
    if "logit_bias" in own and "logit_bias" not in state:
        state["logit_bias"] = torch.zeros_like(own["logit_bias"])
    state.pop("text.transformer.embeddings.position_ids", None)
    return state


def _build(
    arch: str,
    weights: Path,
    device: torch.device,
    *,
    name: str,
    preprocess: dict | None = None,
    quick_gelu: bool = False,
    vocabulary: set[str] | None = None,
) -> ClipScorer:
    """Create the open_clip model ``arch``, load ``weights`` into it and wrap it in a scorer."""
    open_clip = import_open_clip()
    state = read_weights(weights)
    try:
        with quiet_open_clip():
            model = open_clip.create_model(
                arch, pretrained=None, device="cpu", force_quick_gelu=quick_gelu,
                force_preprocess_cfg=preprocess or None, pretrained_image=False, pretrained_text=False,
            )
            tokenizer = open_clip.get_tokenizer(arch)
    except ClipError:
        raise
    except Exception as exc:  # noqa: BLE001  (open_clip raises many kinds for bad configs)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClipError(f"cannot build the CLIP architecture for {name}: {first[:200]}") from None
    state = _fit_state_dict(model, state)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        mismatch = [line.strip() for line in str(exc).splitlines() if "size mismatch" in line]
        detail = mismatch[0] if mismatch else str(exc).splitlines()[0]
        raise ClipError(f"{weights.name} does not fit the {name} architecture: {detail[:200]}") from None
    missing = [k for k in result.missing_keys if not k.endswith("attn_mask")]
    if missing or result.unexpected_keys:
        parts = []
        if missing:
            parts.append(f"{len(missing)} weights missing (e.g. {missing[0]})")
        if result.unexpected_keys:
            parts.append(f"{len(result.unexpected_keys)} unexpected (e.g. {result.unexpected_keys[0]})")
        raise ClipError(f"{weights.name} does not fit the {name} architecture: {', '.join(parts)}")
    model = model.to(device).eval().requires_grad_(False)
    cfg = open_clip.get_model_preprocess_cfg(model)
    size = cfg.get("size") or getattr(model.visual, "image_size", 224)
    return ClipScorer(
        model, tokenizer, name=name, image_size=size if isinstance(size, int) else tuple(size),
        mean=cfg.get("mean", open_clip.OPENAI_DATASET_MEAN), std=cfg.get("std", open_clip.OPENAI_DATASET_STD),
        device=device, resize_mode=cfg.get("resize_mode", "shortest"),
        interpolation=cfg.get("interpolation", "bicubic"), vocabulary=vocabulary,
    )
