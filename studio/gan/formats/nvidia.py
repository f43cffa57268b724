"""Turn the contents of an NVIDIA StyleGAN2-ADA / StyleGAN3 network (attributes + tensors) into studio networks.

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
from studio.gan.networks.stylegan3 import Stylegan3Config, Stylegan3Generator, layer_geometry

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


def is_stylegan3(state: Mapping[str, torch.Tensor]) -> bool:
    """Whether a generator's tensors are StyleGAN3's (a Fourier input, no 4x4 constant)."""
    return "synthesis.input.affine.weight" in state and "synthesis.b4.const" not in state


# StyleGAN3 settings a pickle may carry in its constructor arguments, with the paper's defaults
_SG3_SYNTHESIS_KWARGS = ("channel_base", "channel_max", "num_layers", "num_critical", "first_cutoff", "first_stopband",
                         "last_stopband_rel", "margin_size", "output_scale", "conv_kernel", "filter_size",
                         "lrelu_upsampling", "use_radial_filters", "conv_clamp", "magnitude_ema_beta")
_SG3_LAYER = re.compile(r"synthesis\.L(\d+)_(\d+)_(\d+)\.weight")
# layer attributes compared with the schedule the settings imply: a file whose layers disagree
# with its own settings was made by code the studio does not know
_SG3_CHECKED = ("in_size", "out_size", "in_sampling_rate", "out_sampling_rate", "in_cutoff", "out_cutoff",
                "in_half_width", "out_half_width", "up_factor", "down_factor", "padding", "down_radial")


def stylegan3_config(attrs: Attrs, state: Mapping[str, torch.Tensor],
                     init_kwargs: Mapping[str, Any] | None = None) -> Stylegan3Config:
    """Configuration of a StyleGAN3 generator from its attributes, constructor arguments and tensors.

    Channels and sizes come from the tensors; the schedule (cutoffs, sampling rates, margins)
    from the settings, and must agree with what every layer recorded: a layer that does not
    fit is named.
    """
    kwargs = dict(init_kwargs or {})
    top, synthesis = attrs.get("", {}), attrs.get("synthesis", {})
    mapping_kwargs = kwargs.get("mapping_kwargs") if isinstance(kwargs.get("mapping_kwargs"), dict) else {}
    layers: dict[int, tuple[str, int, int]] = {}
    for name in state:
        if m := _SG3_LAYER.fullmatch(name):
            idx = int(m.group(1))
            if idx in layers:
                raise ModelFormatError(f"the StyleGAN3 generator has two layers numbered {idx}")
            layers[idx] = (name[len("synthesis."):-len(".weight")], int(m.group(2)), int(m.group(3)))
    if not layers or sorted(layers) != list(range(len(layers))):
        raise ModelFormatError("not a StyleGAN3 generator: its synthesis layers are missing or not numbered "
                               f"0..N (found {sorted(layers)[:20]})")
    try:
        c_dim = int(state["mapping.embed.weight"].shape[1]) if "mapping.embed.weight" in state else 0
        fc0 = state["mapping.fc0.weight"]
        w_dim = int(state["synthesis.input.affine.weight"].shape[1])
        z_dim = int(fc0.shape[1]) - (int(state["mapping.embed.weight"].shape[0]) if c_dim else 0)
        first = state[f"synthesis.{layers[0][0]}.weight"]
        channels = [int(state[f"synthesis.{layers[i][0]}.weight"].shape[0]) for i in range(len(layers))]
        radial = any(t.ndim == 2 for k, t in state.items() if k.endswith(".down_filter"))
    except KeyError as exc:
        raise ModelFormatError(f"not a StyleGAN3 generator: tensor {exc.args[0]!r} is missing") from None
    settings: dict[str, Any] = {k: kwargs[k] for k in _SG3_SYNTHESIS_KWARGS if k in kwargs}
    for key in ("num_layers", "num_critical", "margin_size", "output_scale"):
        if key in synthesis:
            settings[key] = synthesis[key]
    first_layer = attrs.get(f"synthesis.{layers[0][0]}", {})
    for key in ("conv_clamp", "magnitude_ema_beta"):
        if key in first_layer:
            settings[key] = first_layer[key]
    settings.update(
        num_layers=len(layers) - 1, conv_kernel=int(first.shape[-1]), use_radial_filters=radial, channels=channels,
    )
    mapping = attrs.get("mapping", {})
    mapping_layers = _count(state, r"mapping\.fc(\d+)\.weight")
    try:
        config = Stylegan3Config(
            z_dim=int(top.get("z_dim", kwargs.get("z_dim", z_dim))),
            c_dim=c_dim,
            w_dim=w_dim,
            img_resolution=int(top.get("img_resolution", kwargs.get("img_resolution", layers[len(layers) - 1][1]))),
            img_channels=channels[-1],
            mapping_layers=mapping_layers,
            mapping_lr_multiplier=float(_attr(attrs, "mapping.fc0", "bias_gain", mapping_kwargs.get("lr_multiplier", 0.01))),
            w_avg_beta=float(mapping.get("w_avg_beta", mapping_kwargs.get("w_avg_beta", 0.998))),
            **settings,
        )
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"the StyleGAN3 generator's settings do not describe a network: {exc}") from None
    _check_stylegan3_schedule(config, attrs, layers)
    return config


def _check_stylegan3_schedule(config: Stylegan3Config, attrs: Attrs, layers: dict[int, tuple[str, int, int]]) -> None:
    geometry = layer_geometry(config)
    for idx, spec in enumerate(geometry["layers"]):
        name, size, _ = layers[idx]
        if size != spec["out_size"]:
            raise ModelFormatError(f"the StyleGAN3 layer {name} is {size} px, but its settings put that layer at "
                                   f"{spec['out_size']} px (sampling rates or margins that do not fit)")
        recorded = attrs.get(f"synthesis.{name}", {})
        for key in _SG3_CHECKED:
            if key not in recorded:
                continue
            got, want = recorded[key], spec[key]
            if key in ("in_size", "out_size") and isinstance(got, (list, tuple)):
                got = list(got)
                want = [want, want]
            if isinstance(want, float):
                ok = isinstance(got, (int, float)) and abs(float(got) - want) <= 1e-6 * max(1.0, abs(want))
            else:
                ok = got == want
            if not ok:
                raise ModelFormatError(f"the StyleGAN3 layer {name} records {key} = {got!r}, but the network's "
                                       f"settings give {want!r}: the file was made by code the studio does not know")
    inp = attrs.get("synthesis.input", {})
    for key in ("sampling_rate", "bandwidth"):
        if key in inp and isinstance(inp[key], (int, float)) and abs(float(inp[key]) - geometry["input"][key]) > 1e-6:
            raise ModelFormatError(f"the StyleGAN3 input records {key} = {inp[key]!r}, but the network's settings give "
                                   f"{geometry['input'][key]!r}")


def build_stylegan3(attrs: Attrs, state: Mapping[str, torch.Tensor],
                    init_kwargs: Mapping[str, Any] | None = None) -> Stylegan3Generator:
    G = Stylegan3Generator(stylegan3_config(attrs, state, init_kwargs))
    load_state(G, state, "generator")
    return G.eval().requires_grad_(False)


_FAMILIES = {"stylegan2": "StyleGAN2", "stylegan3": "StyleGAN3", "swagan": "SWAGAN", "dcgan": "DCGAN"}


def load_state(module: torch.nn.Module, state: Mapping[str, torch.Tensor], what: str, *, family: str | None = None) -> None:
    """Copy tensors into ``module``; every tensor must be used and every parameter set.

    ``family`` names the architecture in the refusal (default: the module's config's kind)."""
    if family is None:
        family = _FAMILIES.get(getattr(getattr(module, "config", None), "kind", "stylegan2"), "StyleGAN2")
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:4])}{' ...' if len(unexpected) > 4 else ''}")
        raise ModelFormatError(f"the {what} does not match a {family} network: " + "; ".join(parts))
    for name, value in state.items():
        if tuple(value.shape) != tuple(own[name].shape):
            raise ModelFormatError(
                f"the {what} does not match a {family} network: {name} has shape "
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
