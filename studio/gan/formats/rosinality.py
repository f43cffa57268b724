"""rosinality/stylegan2-pytorch checkpoints (``.pt``): StyleGAN2 and SWAGAN generators.

Two kinds of file exist: training checkpoints (``g``, ``d``, ``g_ema``, optimiser states,
``args`` as an ``argparse.Namespace``, ``ada_aug_p``) and converted ones (``g_ema`` and
``latent_avg``). Both are read with ``torch.load(weights_only=True)``; only
``argparse.Namespace`` is added to torch's allow-list. The generator is mapped onto the
StyleGAN2-ADA layout ('skip' architecture, no clamping), which computes the same function;
channel counts and depth come from tensor shapes.
"""

from __future__ import annotations

import argparse
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from studio.core.errors import ModelFormatError, UnsafeFileError
from studio.gan.formats.nvidia import load_state
from studio.gan.formats.pickle_scan import PickleTooDeep, check_nesting
from studio.gan.networks import GeneratorConfig, make_generator
from studio.gan.networks.stylegan2 import Generator

W_AVG_SAMPLES = 10_000  # z samples averaged when a checkpoint carries no latent_avg
W_AVG_SEED = 0


@dataclass
class RosinalityCheckpoint:
    generator: Generator
    kind: str                       # 'stylegan2' or 'swagan'
    key: str                        # which state dict was used ('g_ema' or 'g')
    w_avg_source: str               # 'latent_avg' or 'estimated'
    args: dict[str, Any] = field(default_factory=dict)
    ada_aug_p: float | None = None


#: A checkpoint's pickle (``data.pkl``) holds names and shapes; tensors are stored beside it.
_MAX_PICKLE_BYTES = 64 * 1024 * 1024


def _precheck_archive(path: Path) -> None:
    """Bound what ``torch.load`` would unpack and allocate, before it runs.

    torch writes its archives uncompressed, so an entry larger than the file itself is a zip
    bomb; the pickle is checked for values nested deeply enough to crash the hashing inside
    torch's own loader (see :mod:`studio.gan.formats.pickle_scan`). Legacy (non-zip) files
    are left to torch.
    """
    name = path.name
    try:
        if not zipfile.is_zipfile(path):
            return
        size = path.stat().st_size
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            unpacked = sum(info.file_size for info in entries)
            if unpacked > 2 * size + (1 << 20):
                raise ModelFormatError(
                    f"refused to load '{name}': it would unpack to {unpacked / 2**30:.1f} GiB from "
                    f"{size / 2**20:.1f} MiB (a zip bomb; torch never compresses checkpoints)")
            pickles = [info for info in entries if info.filename.endswith("/data.pkl") or info.filename == "data.pkl"]
            for info in pickles:
                if info.file_size > _MAX_PICKLE_BYTES:
                    raise ModelFormatError(f"refused to load '{name}': its pickle is "
                                           f"{info.file_size / 2**20:.0f} MiB (at most "
                                           f"{_MAX_PICKLE_BYTES // 2**20} MiB are read)")
                check_nesting(archive.read(info))
    except PickleTooDeep as exc:
        raise ModelFormatError(f"refused to load '{name}': {exc}") from None
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise ModelFormatError(f"cannot read '{name}' as a PyTorch checkpoint: {exc}") from None


def read_checkpoint_dict(path: str | Path) -> dict:
    """``torch.load`` with ``weights_only=True``; anything beyond tensors and plain data is refused."""
    _precheck_archive(Path(path))
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            data = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError ...
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise UnsafeFileError(
                f"refused to load '{Path(path).name}': it holds objects beyond tensors and plain data "
                f"({_unsupported_global(str(exc)) or msg}); nothing from the file was run"
            ) from None
        raise ModelFormatError(f"cannot read '{Path(path).name}' as a PyTorch checkpoint: {msg}") from None
    if not isinstance(data, dict):
        raise ModelFormatError(f"'{Path(path).name}' is a PyTorch file but not a checkpoint dictionary")
    return data


def _unsupported_global(message: str) -> str | None:
    m = re.search(r"Unsupported global: GLOBAL ([\w.]+)", message)
    return f"the global '{m.group(1)}'" if m else None


def is_rosinality_state(state: Mapping[str, Any]) -> bool:
    return isinstance(state, Mapping) and "input.input" in state and "conv1.conv.weight" in state


def convert_state(state: Mapping[str, torch.Tensor]) -> tuple[GeneratorConfig, dict[str, torch.Tensor]]:
    """Map a rosinality generator state dict onto the studio's (StyleGAN2-ADA) names."""
    try:
        style_dim = int(state["style.1.weight"].shape[1])
        n_mlp = len({m.group(1) for k in state if (m := re.fullmatch(r"style\.(\d+)\.weight", k))})
        rgb_out = int(state["to_rgb1.conv.weight"].shape[1])
        num_convs = len({int(m.group(1)) for k in state if (m := re.fullmatch(r"convs\.(\d+)\.conv\.weight", k))})
    except KeyError as exc:
        raise ModelFormatError(f"not a rosinality generator: tensor {exc.args[0]!r} is missing") from None
    kind = "swagan" if rgb_out == 12 else "stylegan2"
    img_channels = rgb_out // 4 if kind == "swagan" else rgb_out
    if num_convs % 2:
        raise ModelFormatError("not a rosinality generator: an odd number of synthesis convolutions")
    top = 4 * 2 ** (num_convs // 2)  # resolution of the last block's features
    out: dict[str, torch.Tensor] = {}

    for i in range(n_mlp):
        out[f"mapping.fc{i}.weight"] = state[f"style.{i + 1}.weight"]
        out[f"mapping.fc{i}.bias"] = state[f"style.{i + 1}.bias"]
    out["synthesis.b4.const"] = state["input.input"][0]

    def styled(src: str, dst: str, noise_idx: int) -> None:
        out[f"{dst}.weight"] = state[f"{src}.conv.weight"][0]
        out[f"{dst}.affine.weight"] = state[f"{src}.conv.modulation.weight"]
        out[f"{dst}.affine.bias"] = state[f"{src}.conv.modulation.bias"]
        out[f"{dst}.bias"] = state[f"{src}.activate.bias"]
        out[f"{dst}.noise_strength"] = state[f"{src}.noise.weight"].reshape([])
        noise = state.get(f"noises.noise_{noise_idx}")
        res = 4 * 2 ** ((noise_idx + 1) // 2)
        out[f"{dst}.noise_const"] = noise[0, 0] if noise is not None else torch.zeros(res, res)
        blur = state.get(f"{src}.conv.blur.kernel")
        out[f"{dst}.resample_filter"] = blur / 4 if blur is not None else _default_filter()

    def torgb(src: str, dst: str) -> None:
        out[f"{dst}.weight"] = state[f"{src}.conv.weight"][0]
        out[f"{dst}.affine.weight"] = state[f"{src}.conv.modulation.weight"]
        out[f"{dst}.affine.bias"] = state[f"{src}.conv.modulation.bias"]
        out[f"{dst}.bias"] = state[f"{src}.bias"].reshape(-1)

    styled("conv1", "synthesis.b4.conv1", 0)
    torgb("to_rgb1", "synthesis.b4.torgb")
    out["synthesis.b4.resample_filter"] = _default_filter()
    for k in range(num_convs // 2):
        res = 8 * 2 ** k
        styled(f"convs.{2 * k}", f"synthesis.b{res}.conv0", 2 * k + 1)
        styled(f"convs.{2 * k + 1}", f"synthesis.b{res}.conv1", 2 * k + 2)
        torgb(f"to_rgbs.{k}", f"synthesis.b{res}.torgb")
        up = state.get(f"to_rgbs.{k}.upsample.kernel")
        out[f"synthesis.b{res}.resample_filter"] = up / 4 if up is not None else _default_filter()

    channels = {4: int(out["synthesis.b4.conv1.weight"].shape[0])}
    for k in range(num_convs // 2):
        res = 8 * 2 ** k
        channels[res] = int(out[f"synthesis.b{res}.conv1.weight"].shape[0])
    config = GeneratorConfig(
        z_dim=style_dim, c_dim=0, w_dim=style_dim,
        img_resolution=top * 2 if kind == "swagan" else top,
        img_channels=img_channels,
        mapping_layers=n_mlp,
        architecture="skip",
        channels=channels,
        conv_clamp=None,
        kind=kind,
    )
    return config, out


def _default_filter() -> torch.Tensor:
    from studio.gan.networks.ops import setup_filter

    return setup_filter()


def estimate_w_avg(G: Generator, samples: int = W_AVG_SAMPLES, seed: int = W_AVG_SEED) -> torch.Tensor:
    """Mean of the mapping network's output over random z (deterministic)."""
    gen = torch.Generator().manual_seed(seed)
    total = torch.zeros(G.w_dim)
    with torch.inference_mode():
        for start in range(0, samples, 1000):
            z = torch.randn(min(1000, samples - start), G.z_dim, generator=gen)
            total += G.mapping(z, None)[:, 0].sum(dim=0)
    return total / samples


def load_rosinality(path: str | Path, data: dict | None = None) -> RosinalityCheckpoint:
    """Read a rosinality checkpoint into a studio generator."""
    name = Path(path).name
    if data is None:
        data = read_checkpoint_dict(path)
    key = "g_ema" if is_rosinality_state(data.get("g_ema", {})) else "g" if is_rosinality_state(data.get("g", {})) else None
    if key is None:
        raise ModelFormatError(f"'{name}' is a PyTorch checkpoint but holds no rosinality generator ('g_ema')")
    config, state = convert_state(data[key])
    G = make_generator(config)
    latent_avg = data.get("latent_avg")
    state["mapping.w_avg"] = torch.zeros(config.w_dim)
    load_state(G, state, "generator")
    if isinstance(latent_avg, torch.Tensor) and latent_avg.numel() == config.w_dim:
        G.mapping.w_avg.copy_(latent_avg.reshape(-1))
        w_avg_source = "latent_avg"
    else:
        G.mapping.w_avg.copy_(estimate_w_avg(G))
        w_avg_source = "estimated"
    args = data.get("args")
    args = vars(args) if isinstance(args, argparse.Namespace) else {}
    ada_p = data.get("ada_aug_p")
    return RosinalityCheckpoint(
        generator=G.eval().requires_grad_(False),
        kind=config.kind,
        key=key,
        w_avg_source=w_avg_source,
        args={k: v for k, v in args.items() if isinstance(v, (int, float, str, bool, type(None)))},
        ada_aug_p=float(ada_p) if isinstance(ada_p, (int, float)) and math.isfinite(ada_p) else None,
    )
