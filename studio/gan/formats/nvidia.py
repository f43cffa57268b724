"""Turn the contents of an NVIDIA StyleGAN2-ADA network (attributes + tensors) into studio networks.

The attributes are the plain values each pickled module carried (``conv_clamp``,
``architecture``, ...), keyed by module path ('' for the network itself); the tensors are its
state dict. Shapes are the ground truth for channel counts; attributes beat the constructor
arguments where both exist (the two NVIDIA repositories use different defaults).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import torch

from studio.core.errors import ModelFormatError
from studio.gan.networks.stylegan2 import (
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
)

Attrs = Mapping[str, Mapping[str, Any]]


def _count(state: Mapping[str, torch.Tensor], pattern: str) -> int:
    rx = re.compile(pattern)
    return len({m.group(1) for k in state if (m := rx.fullmatch(k))})


def _block_resolutions(state: Mapping[str, torch.Tensor], prefix: str) -> list[int]:
    rx = re.compile(re.escape(prefix) + r"b(\d+)\..*")
    return sorted({int(m.group(1)) for k in state if (m := rx.fullmatch(k))})


def _attr(attrs: Attrs, path: str, name: str, default: Any = None) -> Any:
    return (attrs.get(path) or {}).get(name, default)


def generator_config(attrs: Attrs, state: Mapping[str, torch.Tensor]) -> GeneratorConfig:
    """Configuration of a StyleGAN2 generator from its attributes and state dict."""
    top = attrs.get("", {})
    try:
        resolutions = _block_resolutions(state, "synthesis.")
        if not resolutions:
            raise KeyError("synthesis.b4")
        img_resolution = int(top.get("img_resolution", resolutions[-1]))
        last = f"synthesis.b{img_resolution}.torgb.weight"
        img_channels = int(top.get("img_channels", state[last].shape[0]))
        w_dim = int(top.get("w_dim", state["synthesis.b4.conv1.affine.weight"].shape[1]))
        c_dim = int(top.get("c_dim", state["mapping.embed.weight"].shape[1] if "mapping.embed.weight" in state else 0))
        num_layers = _count(state, r"mapping\.fc(\d+)\.weight")
        z_dim = int(top.get("z_dim", state["mapping.fc0.weight"].shape[1] - (
            state["mapping.embed.weight"].shape[0] if c_dim else 0)))
        channels = {res: int(state[f"synthesis.b{res}.conv1.weight"].shape[0]) for res in resolutions}
    except KeyError as exc:
        raise ModelFormatError(f"not a StyleGAN2 generator: tensor {exc.args[0]!r} is missing") from None
    arch = _attr(attrs, f"synthesis.b{img_resolution}", "architecture")
    if arch is None:  # no attributes: infer from the tensors
        has_skip = f"synthesis.b{img_resolution}.skip.weight" in state
        has_torgb4 = "synthesis.b4.torgb.weight" in state
        arch = "resnet" if has_skip else ("skip" if has_torgb4 or img_resolution == 4 else "orig")
    return GeneratorConfig(
        z_dim=z_dim,
        c_dim=c_dim,
        w_dim=w_dim,
        img_resolution=img_resolution,
        img_channels=img_channels,
        mapping_layers=num_layers,
        mapping_lr_multiplier=float(_attr(attrs, "mapping.fc0", "bias_gain", 0.01)),
        embed_features=int(state["mapping.embed.weight"].shape[0]) if c_dim else None,
        layer_features=int(state["mapping.fc0.weight"].shape[0]) if num_layers > 1 else None,
        architecture=str(arch),
        channels=channels,
        conv_clamp=_attr(attrs, "synthesis.b4.conv1", "conv_clamp"),
        use_noise="synthesis.b4.conv1.noise_const" in state,
    )


def discriminator_config(attrs: Attrs, state: Mapping[str, torch.Tensor]) -> DiscriminatorConfig:
    """Configuration of a StyleGAN2 discriminator from its attributes and state dict."""
    top = attrs.get("", {})
    try:
        resolutions = _block_resolutions(state, "")
        img_resolution = int(top.get("img_resolution", max(resolutions)))
        channels = {4: int(state["b4.conv.weight"].shape[0])}
        for res in resolutions:
            if res > 4:
                channels[res] = int(state[f"b{res}.conv0.weight"].shape[0])
        first = f"b{img_resolution}.fromrgb.weight"
        img_channels = int(top.get("img_channels", state[first].shape[1]))
    except KeyError as exc:
        raise ModelFormatError(f"not a StyleGAN2 discriminator: tensor {exc.args[0]!r} is missing") from None
    c_dim = int(top.get("c_dim", state["mapping.embed.weight"].shape[1] if "mapping.embed.weight" in state else 0))
    arch = _attr(attrs, f"b{img_resolution}", "architecture")
    if arch is None:
        arch = "resnet" if f"b{img_resolution}.skip.weight" in state else (
            "skip" if "b4.fromrgb.weight" in state else "orig")
    mbstd_channels = int(state["b4.conv.weight"].shape[1]) - channels[4]
    return DiscriminatorConfig(
        c_dim=c_dim,
        img_resolution=img_resolution,
        img_channels=img_channels,
        architecture=str(arch),
        channels=channels,
        conv_clamp=_attr(attrs, f"b{img_resolution}.conv0", "conv_clamp"),
        cmap_dim=int(state["b4.out.weight"].shape[0]) if c_dim else None,
        mapping_layers=_count(state, r"mapping\.fc(\d+)\.weight") or 8,
        mbstd_group_size=_attr(attrs, "b4.mbstd", "group_size", 4),
        mbstd_num_channels=mbstd_channels,
    )


def load_state(module: torch.nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    """Copy tensors into ``module``; every tensor must be used and every parameter set."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:4])}{' ...' if len(unexpected) > 4 else ''}")
        raise ModelFormatError(f"the {what} does not match a StyleGAN2 network: " + "; ".join(parts))
    for name, value in state.items():
        if tuple(value.shape) != tuple(own[name].shape):
            raise ModelFormatError(
                f"the {what} does not match a StyleGAN2 network: {name} has shape "
                f"{list(value.shape)}, expected {list(own[name].shape)}"
            )
    module.load_state_dict({k: v.to(torch.float32) for k, v in state.items()})


def build_generator(attrs: Attrs, state: Mapping[str, torch.Tensor]) -> Generator:
    G = Generator(generator_config(attrs, state))
    load_state(G, state, "generator")
    return G.eval().requires_grad_(False)


def build_discriminator(attrs: Attrs, state: Mapping[str, torch.Tensor]) -> Discriminator:
    D = Discriminator(discriminator_config(attrs, state))
    load_state(D, state, "discriminator")
    return D.eval().requires_grad_(False)
