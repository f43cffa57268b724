"""TensorFlow-era NVIDIA StyleGAN2 / StyleGAN2-ADA pickles, read without TensorFlow.

Those files hold ``(G, D, Gs)``: three ``dnnlib.tflib.network.Network`` states with their
settings (``static_kwargs``) and numpy variables under TF names; :mod:`.nvidia_pickle` reads
them with nothing executed. This module renames and re-lays-out the variables into the
PyTorch StyleGAN2-ADA names the studio's networks use. The correspondence is the one
NVIDIA's ``legacy.py`` documents:

* dense weights are stored [in, out] (transposed); convolution weights [kh, kw, in, out]
  (to [out, in, kh, kw]); the upsampling convolutions and the skip path of the generator ran
  as transposed convolutions in TF, so their kernels are also flipped in space;
* the style ("mod") biases omit the +1 the PyTorch layers initialise with;
* ``synthesis/noiseN`` are the constant noise maps in layer order, ``dlatent_avg`` is w_avg;
* TF's ``fmap_base`` counts channels at half the resolution PyTorch's ``channel_base`` does.

Settings the studio's networks do not have (another activation or resampling kernel) and
variables from forks with extra layers are refused by name.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

import numpy as np
import torch

from studio.core.errors import ModelFormatError
from studio.gan.formats.nvidia_pickle import TFNetwork

# static_kwargs NVIDIA's networks took that change nothing the studio renders
_IGNORED_KWARGS = {"truncation_psi", "truncation_cutoff", "truncation_psi_val", "truncation_cutoff_val",
                   "style_mixing_prob", "structure", "conditioning", "fused_modconv", "num_fp16_res", "is_template_graph",
                   "randomize_noise", "dtype", "fmap_min", "freeze_layers", "is_training", "return_dlatents"}
_G_KWARGS = {"latent_size", "label_size", "dlatent_size", "resolution", "num_channels", "mapping_layers", "fmap_base",
             "fmap_max", "fmap_decay", "label_fmaps", "mapping_fmaps", "mapping_lrmul", "mapping_nonlinearity",
             "dlatent_avg_beta", "w_avg_beta", "conv_clamp", "architecture", "resample_kernel", "use_noise",
             "nonlinearity", "normalize_latents"}
_D_KWARGS = {"label_size", "resolution", "num_channels", "fmap_base", "fmap_max", "fmap_decay", "conv_clamp",
             "architecture", "resample_kernel", "nonlinearity", "mapping_layers", "mapping_fmaps", "mapping_lrmul",
             "mbstd_group_size", "mbstd_num_features"}


def _check_kwargs(kwargs: dict[str, Any], known: set[str], what: str) -> None:
    unknown = sorted(set(kwargs) - known - _IGNORED_KWARGS)
    if unknown:
        raise ModelFormatError(f"the TensorFlow {what} has the setting {unknown[0]!r}, which NVIDIA's StyleGAN2 "
                               "networks do not: it comes from a fork the studio does not know")
    if kwargs.get("nonlinearity", "lrelu") != "lrelu" or kwargs.get("mapping_nonlinearity", "lrelu") != "lrelu":
        raise ModelFormatError(f"the TensorFlow {what} uses another activation than leaky ReLU")
    kernel = kwargs.get("resample_kernel", [1, 3, 3, 1])
    if kernel is not None and list(kernel) != [1, 3, 3, 1]:
        raise ModelFormatError(f"the TensorFlow {what} resamples with the kernel {list(kernel)}, not [1, 3, 3, 1]")
    if kwargs.get("fmap_decay", 1.0) != 1.0:
        raise ModelFormatError(f"the TensorFlow {what} uses fmap_decay {kwargs['fmap_decay']}, not 1")


class _Variables:
    """The TF variables, consumed by name: whatever is left at the end was not understood."""

    def __init__(self, variables: dict[str, np.ndarray], what: str):
        self.left = dict(variables)
        self.what = what

    def take(self, name: str, shape_rank: int | None = None) -> np.ndarray:
        try:
            value = self.left.pop(name)
        except KeyError:
            raise ModelFormatError(f"the TensorFlow {self.what} has no variable {name!r}") from None
        if value.dtype.kind != "f":
            raise ModelFormatError(f"the TensorFlow {self.what}'s variable {name!r} holds {value.dtype}, not numbers")
        if shape_rank is not None and value.ndim != shape_rank:
            raise ModelFormatError(f"the TensorFlow {self.what}'s variable {name!r} has the shape {list(value.shape)}")
        return value

    def has(self, name: str) -> bool:
        return name in self.left

    def finish(self, harmless: Callable[[str], bool] = lambda name: False) -> None:
        extra = sorted(k for k in self.left if not harmless(k))
        if extra:
            more = f" and {len(extra) - 1} more" if len(extra) > 1 else ""
            raise ModelFormatError(f"the TensorFlow {self.what} has the variable {extra[0]!r}{more}, which NVIDIA's "
                                   "StyleGAN2 does not: it comes from a fork with layers the studio does not know")


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float32, order="C"))  # (ascontiguousarray makes 0-d 1-d)


def _conv(a: np.ndarray, flip: bool = False) -> torch.Tensor:
    if a.ndim != 4:
        raise ModelFormatError(f"a TensorFlow convolution weight has the shape {list(a.shape)}")
    if flip:
        a = a[::-1, ::-1]
    return _tensor(a.transpose(3, 2, 0, 1))


def _dense(a: np.ndarray) -> torch.Tensor:
    if a.ndim != 2:
        raise ModelFormatError(f"a TensorFlow dense weight has the shape {list(a.shape)}")
    return _tensor(a.T)


def _with_resample_filters(state: dict[str, torch.Tensor], blocks: list[str]) -> dict[str, torch.Tensor]:
    """Add the [1, 3, 3, 1] filter buffers the PyTorch layers keep (TF baked it into its ops):
    one per block and one per convolution (a ToRGB has none)."""
    filt = torch.tensor([1.0, 3.0, 3.0, 1.0])
    filt = torch.outer(filt, filt) / filt.sum() ** 2
    owners = [k[: -len(".weight")] for k, t in state.items()
              if k.endswith(".weight") and t.ndim == 4 and not k.endswith("torgb.weight")]
    for owner in owners + blocks:
        state[f"{owner}.resample_filter"] = filt.clone()
    return state


def _resolution(kwargs: dict[str, Any], variables: dict[str, np.ndarray], pattern: str, what: str) -> int:
    found = [int(m.group(1)) for k in variables if (m := re.match(pattern, k))]
    res = kwargs.get("resolution", max(found) if found else 1024)
    if not isinstance(res, int) or res < 4 or res & (res - 1) or res > 4096:
        raise ModelFormatError(f"the TensorFlow {what} declares the resolution {res!r}")
    return res


def generator_state(Gs: TFNetwork) -> tuple[dict[str, dict[str, Any]], dict[str, torch.Tensor]]:
    """(attributes, state dict) of the PyTorch StyleGAN2-ADA generator equivalent to ``Gs``."""
    if set(Gs.components) != {"mapping", "synthesis"}:
        raise ModelFormatError(f"the TensorFlow generator has the parts {sorted(Gs.components)}, not mapping and "
                               "synthesis")
    kwargs = dict(Gs.static_kwargs)
    _check_kwargs(kwargs, _G_KWARGS, "generator")
    variables = Gs.all_variables()
    if any("StyleMod" in k or "/Noise/weight" in k for k in variables):
        raise ModelFormatError("it is a first-generation StyleGAN (TensorFlow) pickle; the studio reads StyleGAN2 "
                               "and StyleGAN3 networks")
    v = _Variables(variables, "generator")
    res = _resolution(kwargs, variables, r"synthesis/(\d+)x\1/", "generator")
    log2 = int(math.log2(res))
    state: dict[str, torch.Tensor] = {}

    idx = 0
    while v.has(f"mapping/Dense{idx}/weight"):
        state[f"mapping.fc{idx}.weight"] = _dense(v.take(f"mapping/Dense{idx}/weight"))
        state[f"mapping.fc{idx}.bias"] = _tensor(v.take(f"mapping/Dense{idx}/bias"))
        idx += 1
    if idx == 0:
        raise ModelFormatError("the TensorFlow generator has no mapping layers (mapping/Dense0)")
    c_dim = int(kwargs.get("label_size", 0) or 0)
    if c_dim:
        if not v.has("mapping/LabelEmbed/weight"):
            raise ModelFormatError("the TensorFlow generator is conditional without a label embedding "
                                   "(mapping/LabelEmbed): only StyleGAN2-ADA's conditioning is read")
        state["mapping.embed.weight"] = _dense(v.take("mapping/LabelEmbed/weight"))
        state["mapping.embed.bias"] = _tensor(v.take("mapping/LabelEmbed/bias"))
    state["mapping.w_avg"] = _tensor(v.take("dlatent_avg", 1))

    def styled(tf: str, pt: str, flip: bool = False, noise: int | None = None) -> None:
        state[f"{pt}.weight"] = _conv(v.take(f"{tf}/weight"), flip)
        state[f"{pt}.bias"] = _tensor(v.take(f"{tf}/bias", 1))
        state[f"{pt}.affine.weight"] = _dense(v.take(f"{tf}/mod_weight"))
        state[f"{pt}.affine.bias"] = _tensor(v.take(f"{tf}/mod_bias", 1)) + 1
        if noise is not None and v.has(f"{tf}/noise_strength"):
            state[f"{pt}.noise_strength"] = _tensor(v.take(f"{tf}/noise_strength", 0))
            state[f"{pt}.noise_const"] = _tensor(v.take(f"synthesis/noise{noise}", 4)[0, 0])

    architecture = kwargs.get("architecture", "skip")
    if architecture not in ("orig", "skip", "resnet"):
        raise ModelFormatError(f"the TensorFlow generator has the architecture {architecture!r}")
    state["synthesis.b4.const"] = _tensor(v.take("synthesis/4x4/Const/const", 4)[0])
    styled("synthesis/4x4/Conv", "synthesis.b4.conv1", noise=0)
    for i in range(2, log2 + 1):
        r = 2 ** i
        block = f"synthesis.b{r}"
        if r > 4:
            styled(f"synthesis/{r}x{r}/Conv0_up", f"{block}.conv0", flip=True, noise=2 * i - 5)
            styled(f"synthesis/{r}x{r}/Conv1", f"{block}.conv1", noise=2 * i - 4)
            if architecture == "resnet":
                state[f"{block}.skip.weight"] = _conv(v.take(f"synthesis/{r}x{r}/Skip/weight"), flip=True)
        if architecture == "skip" or r == res:
            styled(f"synthesis/{r}x{r}/ToRGB", f"{block}.torgb")
    v.finish(lambda name: name in ("lod", "synthesis/lod"))
    _with_resample_filters(state, [f"synthesis.b{2 ** i}" for i in range(2, log2 + 1)])

    clamp = kwargs.get("conv_clamp")
    attrs: dict[str, dict[str, Any]] = {
        "": {"z_dim": int(kwargs.get("latent_size", 512)), "c_dim": c_dim, "w_dim": int(kwargs.get("dlatent_size", 512)),
             "img_resolution": res, "img_channels": int(kwargs.get("num_channels", 3))},
        f"synthesis.b{res}": {"architecture": architecture},
        "synthesis.b4.conv1": {"conv_clamp": clamp},
        "mapping.fc0": {"bias_gain": float(kwargs.get("mapping_lrmul", 0.01))},
    }
    return attrs, state


def discriminator_state(D: TFNetwork) -> tuple[dict[str, dict[str, Any]], dict[str, torch.Tensor]]:
    """(attributes, state dict) of the PyTorch StyleGAN2-ADA discriminator equivalent to ``D``."""
    kwargs = dict(D.static_kwargs)
    _check_kwargs(kwargs, _D_KWARGS, "discriminator")
    variables = D.all_variables()
    v = _Variables(variables, "discriminator")
    res = _resolution(kwargs, variables, r"(\d+)x\1/", "discriminator")
    architecture = kwargs.get("architecture", "resnet")
    if architecture not in ("orig", "skip", "resnet"):
        raise ModelFormatError(f"the TensorFlow discriminator has the architecture {architecture!r}")
    state: dict[str, torch.Tensor] = {}
    r = res
    while r > 4:
        block = f"b{r}"
        if r == res or architecture == "skip":
            state[f"{block}.fromrgb.weight"] = _conv(v.take(f"{r}x{r}/FromRGB/weight"))
            state[f"{block}.fromrgb.bias"] = _tensor(v.take(f"{r}x{r}/FromRGB/bias"))
        for i, tf in ((0, "Conv0"), (1, "Conv1_down")):
            state[f"{block}.conv{i}.weight"] = _conv(v.take(f"{r}x{r}/{tf}/weight"))
            state[f"{block}.conv{i}.bias"] = _tensor(v.take(f"{r}x{r}/{tf}/bias"))
        if architecture == "resnet":
            state[f"{block}.skip.weight"] = _conv(v.take(f"{r}x{r}/Skip/weight"))
        r //= 2
    if architecture == "skip":
        state["b4.fromrgb.weight"] = _conv(v.take("4x4/FromRGB/weight"))
        state["b4.fromrgb.bias"] = _tensor(v.take("4x4/FromRGB/bias"))
    state["b4.conv.weight"] = _conv(v.take("4x4/Conv/weight"))
    state["b4.conv.bias"] = _tensor(v.take("4x4/Conv/bias"))
    state["b4.fc.weight"] = _dense(v.take("4x4/Dense0/weight"))
    state["b4.fc.bias"] = _tensor(v.take("4x4/Dense0/bias"))
    state["b4.out.weight"] = _dense(v.take("Output/weight"))
    state["b4.out.bias"] = _tensor(v.take("Output/bias"))
    c_dim = int(kwargs.get("label_size", 0) or 0)
    if c_dim:
        idx = 0
        state["mapping.embed.weight"] = _dense(v.take("LabelEmbed/weight"))
        state["mapping.embed.bias"] = _tensor(v.take("LabelEmbed/bias"))
        while v.has(f"Mapping{idx}/weight"):
            state[f"mapping.fc{idx}.weight"] = _dense(v.take(f"Mapping{idx}/weight"))
            state[f"mapping.fc{idx}.bias"] = _tensor(v.take(f"Mapping{idx}/bias"))
            idx += 1
    v.finish()
    _with_resample_filters(state, [f"b{2 ** i}" for i in range(3, int(math.log2(res)) + 1)])
    attrs = {
        "": {"c_dim": c_dim, "img_resolution": res, "img_channels": int(kwargs.get("num_channels", 3))},
        f"b{res}": {"architecture": architecture},
        f"b{res}.conv0": {"conv_clamp": kwargs.get("conv_clamp")},
        "b4.mbstd": {"group_size": int(kwargs.get("mbstd_group_size", 4))},
    }
    return attrs, state
