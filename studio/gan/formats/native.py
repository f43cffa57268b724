"""The studio's own network file: one ``.safetensors`` with JSON metadata.

Tensors: ``G_ema.<name>`` (the generator one renders), ``D.<name>`` when the discriminator is
kept, and for training snapshots anything else under its own prefix (``G.``, ``opt.``...).
Metadata (safetensors only stores strings): ``format`` / ``format_version``, ``kind``,
``generator_config`` and ``discriminator_config`` (JSON; a discriminator config with
``"kind": "dcgan"`` is a DCGAN's, none is StyleGAN2's), ``fingerprint``, ``provenance``
(JSON: source file, its sha256, source format) and ``training_state`` (JSON: kimg, ADA p...).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from studio.core.atomic import atomic_path
from studio.core.errors import ModelFormatError
from studio.gan.formats.nvidia import load_state
from studio.gan.networks import Discriminator, Generator, generator_config_from_dict, make_discriminator, make_generator

FORMAT_NAME = "gan-art-studio"
FORMAT_VERSION = 1


def fingerprint(G: torch.nn.Module) -> str:
    """sha256 over the generator's tensors (sorted names, shapes, float32 bytes).

    The same network read from a pickle, a checkpoint or a converted file gets the same
    fingerprint, so a recipe finds its model again after conversion.
    """
    h = hashlib.sha256()
    for name, tensor in sorted(G.state_dict().items()):
        t = tensor.detach().to("cpu", torch.float32).contiguous()
        h.update(name.encode())
        h.update(json.dumps(list(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def save_native(
    path: str | Path,
    G: Generator,
    D: Discriminator | None = None,
    *,
    provenance: Mapping[str, Any] | None = None,
    training_state: Mapping[str, Any] | None = None,
    extra_tensors: Mapping[str, torch.Tensor] | None = None,
    half: bool = False,
) -> str:
    """Write a network file atomically; returns the generator's fingerprint.

    ``half`` stores the floating-point weights as float16 (half the size; the fingerprint is
    taken from the weights as they will load again).
    """
    dtype = torch.float16 if half else torch.float32

    def prep(t: torch.Tensor) -> torch.Tensor:
        t = t.detach().to("cpu")
        return t.to(dtype).contiguous() if t.is_floating_point() else t.contiguous()

    tensors = {f"G_ema.{k}": prep(v) for k, v in G.state_dict().items()}
    if D is not None:
        tensors.update({f"D.{k}": prep(v) for k, v in D.state_dict().items()})
    for k, v in (extra_tensors or {}).items():
        if k.startswith(("G_ema.", "D.")):
            raise ValueError(f"extra tensor {k!r} collides with the network's own names")
        tensors[k] = v.detach().to("cpu").contiguous()
    if half:  # fingerprint what a reader will get back
        G_ref = make_generator(G.config)
        G_ref.load_state_dict({k[6:]: v.float() for k, v in tensors.items() if k.startswith("G_ema.")})
        fp = fingerprint(G_ref)
    else:
        fp = fingerprint(G)
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "kind": G.config.kind,
        "generator_config": json.dumps(G.config.to_dict()),
        "fingerprint": fp,
        "provenance": json.dumps(dict(provenance or {})),
        "training_state": json.dumps(dict(training_state or {})),
    }
    if D is not None:
        metadata["discriminator_config"] = json.dumps(D.config.to_dict())
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return fp


def read_native(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """All tensors and the metadata of a studio network file."""
    name = Path(path).name
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFormatError(f"cannot read '{name}' as a safetensors file: {exc}") from None
    if metadata.get("format") != FORMAT_NAME:
        raise ModelFormatError(f"'{name}' is a safetensors file but not a GAN Art Studio network "
                               "(convert other files with `studio convert`)")
    version = int(metadata.get("format_version", "0"))
    if version > FORMAT_VERSION:
        raise ModelFormatError(f"'{name}' was written by a newer studio (format {version}); please update")
    return tensors, metadata


def load_native(path: str | Path, with_discriminator: bool = True):
    """(G, D or None, metadata dict with parsed JSON fields)."""
    tensors, metadata = read_native(path)
    try:
        g_config = generator_config_from_dict(json.loads(metadata["generator_config"]))
        meta = {
            "fingerprint": metadata.get("fingerprint"),
            "provenance": json.loads(metadata.get("provenance", "{}")),
            "training_state": json.loads(metadata.get("training_state", "{}")),
        }
        for key in ("provenance", "training_state"):
            if not isinstance(meta[key], dict):
                raise ValueError(f"its {key} is {type(meta[key]).__name__}, not an object")
        G = make_generator(g_config)
        load_state(G, {k[6:]: v for k, v in tensors.items() if k.startswith("G_ema.")}, "generator")
        D = None
        d_state = {k[2:]: v for k, v in tensors.items() if k.startswith("D.")}
        if with_discriminator and d_state and "discriminator_config" in metadata:
            D = make_discriminator(json.loads(metadata["discriminator_config"]))  # "kind" picks the class
            load_state(D, d_state, "discriminator")
            D = D.eval().requires_grad_(False)
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelFormatError(f"'{Path(path).name}' has damaged metadata: {exc}") from None
    except RecursionError:
        raise ModelFormatError(f"'{Path(path).name}' has metadata nested too deeply to be a studio network") from None
    return G.eval().requires_grad_(False), D, meta
