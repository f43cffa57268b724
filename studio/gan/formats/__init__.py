"""Reading and writing network files. The front door is :func:`load_network`.

Supported inputs: NVIDIA StyleGAN2-ADA / StyleGAN3-repo ``.pkl`` (through a restricted
unpickler), rosinality ``.pt`` checkpoints (``torch.load(weights_only=True)``) and the
studio's own ``.safetensors``. Nothing inside a file is ever executed. Out: the studio's own
format (``native``) and ONNX graphs for ONNX Runtime (``onnx_export``).

The name ``default`` stands for the bundled default generator (:data:`DEFAULT_NETWORK_PATH`)
wherever a network path is accepted.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from studio.core import paths
from studio.core.errors import ModelFormatError, StudioError
from studio.gan.networks import Discriminator, Generator

#: The bundled default generator (conditional, 128 px, six families of abstract painting).
DEFAULT_NETWORK_PATH: Path = paths.default_network_path()
DEFAULT_NETWORK = "default"

FORMAT_LABELS = {
    "nvidia-pkl": "NVIDIA network pickle",
    "nvidia-tf-pkl": "NVIDIA TensorFlow-era network pickle",
    "rosinality-pt": "rosinality checkpoint",
    "native": "studio network (safetensors)",
}

_ZIP_MAGIC = b"PK\x03\x04"
_LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


@dataclass
class LoadedNetwork:
    """A generator ready to render, with what the studio knows about where it came from."""

    G: Generator
    D: Discriminator | None
    format: str                                   # key of FORMAT_LABELS
    path: Path
    fingerprint: str
    provenance: dict[str, Any] = field(default_factory=dict)
    training_state: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)  # format-specific facts (training set, args...)

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def kind(self) -> str:
        return self.G.config.kind

    @property
    def class_names(self) -> list[str]:
        """Names of a conditional network's classes when its file records them (studio files
        trained on a labelled dataset do), else an empty list."""
        names = self.details.get("class_names") or self.provenance.get("class_names") or []
        return [str(n) for n in names] if isinstance(names, list) and len(names) == self.G.c_dim else []

    @property
    def class_keywords(self) -> dict[str, list[str]]:
        """Words that ask for each class in a prompt, when the file records them (the default
        model's: its families' shapes, e.g. "triangles" for "geometric"); see
        :func:`studio.clip.vocabulary.suggest_class`."""
        words = self.provenance.get("class_keywords")
        if not isinstance(words, dict):
            return {}
        return {str(k): [str(w) for w in v] for k, v in words.items() if isinstance(v, list)}

    def summary(self) -> dict[str, Any]:
        """The facts ``studio info`` prints."""
        G = self.G
        return {
            "file": str(self.path),
            "format": FORMAT_LABELS[self.format],
            "architecture": self._architecture(),
            "resolution": f"{G.img_resolution}x{G.img_resolution}",
            "image_channels": G.img_channels,
            "z_dim": G.z_dim,
            "w_dim": G.w_dim,
            "num_ws": G.num_ws,
            "c_dim": G.c_dim,
            **({"classes": ", ".join(f"{k} {name}" for k, name in enumerate(self.class_names))}
               if self.class_names else {}),
            "mapping_layers": G.config.mapping_layers,
            "parameters": sum(p.numel() for p in G.parameters()),
            "discriminator": f"yes ({sum(p.numel() for p in self.D.parameters())} parameters)" if self.D else "no",
            "fingerprint": self.fingerprint,
            **({"training": self._training_summary()} if "kimg" in self.training_state else {}),
        }

    def _architecture(self) -> str:
        config = self.G.config
        if self.kind == "stylegan2":
            return f"stylegan2 ({config.architecture})"
        if self.kind == "stylegan3":
            what = "rotation" if config.variant == "stylegan3-r" else "translation"
            return f"{config.variant} ({what} equivariant, {config.num_layers} layers)"
        return self.kind

    def _training_summary(self) -> str:
        """``251.1 kimg, ADA p 0.639, 5.4 h on cpu (2 threads)`` from what the trainer recorded."""
        state = self.training_state
        parts = [f"{float(state['kimg']):.1f} kimg"]
        if state.get("p") is not None:
            parts.append(f"ADA p {float(state['p']):.3f}")
        if state.get("train_seconds"):
            hardware = ", ".join(state.get("hardware") or [])
            parts.append(f"{float(state['train_seconds']) / 3600:.1f} h" + (f" on {hardware}" if hardware else ""))
        return ", ".join(parts)


def is_default_network(source: str | Path) -> bool:
    """Whether ``source`` names the bundled default generator (``default``, any case)."""
    return str(source).strip().lower() == DEFAULT_NETWORK and not Path(str(source)).is_file()


def resolve_network_path(source: str | Path) -> Path:
    """The file a network argument means: ``default`` is the bundled generator, else the path."""
    if is_default_network(source):
        if not DEFAULT_NETWORK_PATH.is_file():
            raise ModelFormatError(f"the default generator is missing from this installation "
                                   f"(expected {DEFAULT_NETWORK_PATH}); open a network file instead")
        return DEFAULT_NETWORK_PATH
    return Path(source).expanduser()


def _is_safetensors_header(path: Path, length: int, size: int) -> bool:
    """Whether ``length`` bytes after the first 8 are a JSON object, as in a safetensors file."""
    if not 2 <= length <= min(size - 8, 100 * 2 ** 20):
        return False
    try:
        with open(path, "rb") as f:
            f.seek(8)
            return isinstance(json.loads(f.read(length)), dict)
    except (OSError, ValueError, RecursionError):     # a header nested thousands deep is no network
        return False


def detect_format(path: Path) -> str:
    """Which reader a file needs, from its first bytes (the extension is only a hint)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) and not stat.S_ISDIR(info.st_mode):
            # a FIFO or a device would block (or never end) the moment it is read
            raise ModelFormatError(f"'{path.name}' is not a regular file (a pipe, socket or device), so it is not "
                                   "a network file")
        size = info.st_size
        with open(path, "rb") as f:
            head = f.read(16)
    except FileNotFoundError:
        raise ModelFormatError(f"'{path}' does not exist") from None
    except IsADirectoryError:
        raise ModelFormatError(f"'{path}' is a folder, not a network file") from None
    except OSError as exc:
        raise ModelFormatError(f"cannot read '{path}': {exc.strerror or exc}") from None
    if size == 0:
        raise ModelFormatError(f"'{path.name}' is empty (0 bytes): the download or copy did not finish")
    if head.startswith(_ZIP_MAGIC) or head.startswith(_LEGACY_TORCH_MAGIC):
        return "rosinality-pt"
    # safetensors before pickles: its 8-byte header length may itself start with 0x80
    if len(head) >= 9 and head[8:9] == b"{" and _is_safetensors_header(path, int.from_bytes(head[:8], "little"), size):
        return "native"
    if head[:1] == b"\x80":
        return "nvidia-pkl"
    raise ModelFormatError(
        f"'{path.name}' is not a network file the studio knows "
        "(expected an NVIDIA .pkl, a rosinality .pt or a studio .safetensors)"
    )


def missing_end(path: Path, fmt: str) -> str | None:
    """Why the ``fmt`` file at ``path`` is not whole, in a few words, or None when it is.

    Each format says where it ends: a zip (a rosinality checkpoint) has its directory at the end;
    a safetensors header gives the offset of every tensor's last byte; a pickle ends with STOP.
    Reading the structure (never its objects) is how a download with no announced length, or one
    cut short after a server's lie about it, is told from a complete file.
    """
    import pickletools
    import zipfile

    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            if fmt == "rosinality-pt":
                if f.read(4) != _ZIP_MAGIC:
                    return None                 # a legacy torch file states no end of its own
                try:
                    zipfile.ZipFile(f).close()
                except zipfile.BadZipFile:
                    return "its zip directory, which comes last, is missing"
                return None
            if fmt == "native":
                length = int.from_bytes(f.read(8), "little")
                header = json.loads(f.read(length))
                ends = [entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"]
                end = 8 + length + max(ends, default=0)
                return None if size >= end else f"it has {size:,} of the {end:,} bytes its header describes"
            for opcode, _arg, _pos in pickletools.genops(f):
                if opcode.name == "STOP":
                    return None
            return "it ends before the pickle's STOP"
    except (ValueError, KeyError, TypeError, IndexError, RecursionError, EOFError):
        return "it ends in the middle of its data"
    except OSError as exc:
        return f"it cannot be read: {exc.strerror or exc}"


def load_network(path: str | Path, *, device: str | torch.device = "cpu", with_discriminator: bool = True) -> LoadedNetwork:
    """Read any supported network file (or ``default``). Raises :class:`ModelFormatError` with a one-line reason."""
    path = resolve_network_path(path)
    fmt = detect_format(path)
    try:
        if fmt == "native":
            net = _load_native(path, with_discriminator)
        elif fmt == "rosinality-pt":
            net = _load_rosinality(path)
        else:
            net = _load_nvidia(path, with_discriminator)
    except StudioError:
        raise
    except (RuntimeError, ValueError, KeyError, TypeError, EOFError) as exc:
        raise ModelFormatError(f"'{path.name}' could not be read as a {FORMAT_LABELS[fmt]}: {exc}") from None
    net.G.to(device)
    if net.D is not None:
        net.D.to(device)
    return net


def _load_native(path: Path, with_discriminator: bool) -> LoadedNetwork:
    from studio.gan.formats.native import fingerprint, load_native

    G, D, meta = load_native(path, with_discriminator)
    return LoadedNetwork(G, D, "native", path, fingerprint(G), meta["provenance"], meta["training_state"])


def _load_rosinality(path: Path) -> LoadedNetwork:
    from studio.gan.formats.native import fingerprint
    from studio.gan.formats.rosinality import load_rosinality

    ckpt = load_rosinality(path)
    details = {"state_dict": ckpt.key, "w_avg": ckpt.w_avg_source, "args": ckpt.args}
    training = {"ada_p": ckpt.ada_aug_p} if ckpt.ada_aug_p is not None else {}
    return LoadedNetwork(ckpt.generator, None, "rosinality-pt", path, fingerprint(ckpt.generator),
                         {"source_format": "rosinality-pt"}, training, details)


def _load_nvidia(path: Path, with_discriminator: bool) -> LoadedNetwork:
    from studio.gan.formats.native import fingerprint
    from studio.gan.formats.nvidia import build_discriminator, build_generator, build_stylegan3, is_stylegan3
    from studio.gan.formats.nvidia_pickle import TFNetwork, read_nvidia_pickle

    data = read_nvidia_pickle(path)
    g_record = data.get("G_ema") or data.get("G")
    if isinstance(g_record, TFNetwork):
        return _load_nvidia_tf(path, data, with_discriminator)
    if g_record is None or not hasattr(g_record, "state_dict"):
        raise ModelFormatError(f"'{path.name}' is a pickle but holds no generator ('G_ema')")
    state = g_record.state_dict()
    if is_stylegan3(state):
        G = build_stylegan3(g_record.named_attrs(), state, g_record.init_kwargs)
    else:
        G = build_generator(g_record.named_attrs(), state)
    D = None
    d_record = data.get("D")
    if with_discriminator and d_record is not None and hasattr(d_record, "state_dict"):
        D = build_discriminator(d_record.named_attrs(), d_record.state_dict())
    details = {}
    if isinstance(data.get("training_set_kwargs"), dict):
        details["training_set"] = {k: v for k, v in data["training_set_kwargs"].items()
                                   if isinstance(v, (int, float, str, bool, type(None)))}
    return LoadedNetwork(G, D, "nvidia-pkl", path, fingerprint(G), {"source_format": "nvidia-pkl"}, {}, details)


def _load_nvidia_tf(path: Path, data: dict, with_discriminator: bool) -> LoadedNetwork:
    from studio.gan.formats.native import fingerprint
    from studio.gan.formats.nvidia import build_discriminator, build_generator
    from studio.gan.formats.nvidia_tf import discriminator_state, generator_state

    try:
        G = build_generator(*generator_state(data["G_ema"]))
        D = build_discriminator(*discriminator_state(data["D"])) if with_discriminator else None
    except ModelFormatError as exc:
        raise ModelFormatError(f"'{path.name}' is a TensorFlow StyleGAN2 pickle that does not fit: {exc}") from None
    details = {"tensorflow": {"generator": data["G_ema"].build_func_name,
                              "settings": {k: v for k, v in data["G_ema"].static_kwargs.items()
                                           if isinstance(v, (int, float, str, bool, type(None)))}}}
    return LoadedNetwork(G, D, "nvidia-tf-pkl", path, fingerprint(G), {"source_format": "nvidia-tf-pkl"}, {}, details)


__all__ = ["LoadedNetwork", "load_network", "detect_format", "missing_end", "resolve_network_path", "is_default_network",
           "FORMAT_LABELS", "DEFAULT_NETWORK", "DEFAULT_NETWORK_PATH"]
