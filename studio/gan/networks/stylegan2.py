"""StyleGAN2 generator and discriminator (the StyleGAN2-ADA formulation), in plain PyTorch.

Module and parameter names mirror the StyleGAN2-ADA networks, so a state dict read from an
NVIDIA pickle loads as it is (``mapping.fc0.weight``, ``synthesis.b64.conv0.affine.bias``, ...).
Weights are stored unscaled and multiplied by their equalised-learning-rate gain at run time,
as in the paper.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from studio.gan.latents import truncate
from studio.gan.networks import ops

#: (height, width) -> [K, 1, height, width]: how much of each of K latents every pixel takes (sums to 1)
MaskFn = Callable[[int, int], torch.Tensor]

NOISE_MODES = ("const", "random", "none")
PER_IMAGE_RESOLUTION = 64  # inference renders blocks from this resolution up one image at a time
ARCHITECTURES = ("orig", "skip", "resnet")


def channel_table(resolution: int, channel_base: int, channel_max: int, low: int = 4) -> dict[int, int]:
    """Feature channels per resolution: ``min(channel_base // res, channel_max)``."""
    table, res = {}, low
    while res <= resolution:
        table[res] = min(channel_base // res, channel_max)
        res *= 2
    return table


def _check_resolution(resolution: int) -> int:
    log2 = int(round(math.log2(resolution))) if resolution > 0 else 0
    if resolution < 4 or 2 ** log2 != resolution:
        raise ValueError(f"resolution must be a power of two >= 4, got {resolution}")
    return log2


# Bounds on what a network file may declare, checked before anything is allocated: the largest
# public StyleGAN2/3 networks (1024 px, config-f) stay far inside them; a 440-byte file asking for
# a million layers or a 64k-pixel image does not.
MAX_DIM = 8192                 # z / w / embedding / layer widths
MAX_CHANNELS = 4096
MAX_RESOLUTION = 4096
MAX_MAPPING_LAYERS = 64
MAX_CLASSES = 100_000
MAX_PARAMETERS = 400_000_000   # 1.6 GB of float32 weights


def _whole(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low:,} to {high:,}, got {value:,}")
    return value


def check_network_bounds(config: Any, *, role: str = "generator") -> None:
    """Refuse a config no real network has (or that would not fit in memory), naming the value."""
    what = f"the {role}'s"
    res = _whole(f"{what} img_resolution", config.img_resolution, 4, MAX_RESOLUTION)
    _check_resolution(res)
    _whole(f"{what} img_channels", config.img_channels, 1, 4)
    _whole(f"{what} c_dim", config.c_dim, 0, MAX_CLASSES)
    _whole(f"{what} mapping_layers", config.mapping_layers, 0, MAX_MAPPING_LAYERS)
    _whole(f"{what} channel_base", config.channel_base, 1, MAX_CHANNELS * MAX_RESOLUTION)
    _whole(f"{what} channel_max", config.channel_max, 1, MAX_CHANNELS)
    for name in ("z_dim", "w_dim", "embed_features", "layer_features", "cmap_dim"):
        value = getattr(config, name, None)
        if value is not None:
            _whole(f"{what} {name}", value, 0 if name in ("z_dim", "cmap_dim") else 1, MAX_DIM)
    if not isinstance(config.channels, dict):
        raise ValueError(f"{what} channels must be a table of resolution: channels, got {type(config.channels).__name__}")
    for key, value in config.channels.items():
        _whole(f"{what} channels at {key} px", value, 1, MAX_CHANNELS)
    clamp = config.conv_clamp
    if clamp is not None and (isinstance(clamp, bool) or not isinstance(clamp, (int, float)) or not math.isfinite(clamp)):
        raise ValueError(f"{what} conv_clamp must be a number or null, got {clamp!r}")
    if getattr(config, "kind", "stylegan2") not in ("stylegan2", "swagan"):
        return                           # other families size their layers by their own rules
    table = config.channels or channel_table(res, config.channel_base, config.channel_max)
    if not table or min(table.values()) < 1:
        raise ValueError(f"{what} channels leave a layer with no channels ({table})")
    convs = sum(18 * table.get(r, 1) * table.get(r // 2, table.get(r, 1)) for r in table)
    width = max(getattr(config, "w_dim", 0) or 0, 1)
    params = convs + config.mapping_layers * width * width + sum(table.values()) * width * 3
    if params > MAX_PARAMETERS:
        raise ValueError(f"{what} settings describe a network of about {params / 1e6:,.0f} M parameters; the studio "
                         f"opens networks of up to {MAX_PARAMETERS / 1e6:,.0f} M")


# --------------------------------------------------------------------------------------------
# Layers


class FullyConnectedLayer(nn.Module):
    def __init__(
        self,
        in_features: int,            # input features
        out_features: int,           # output features
        *,
        bias: bool = True,           # learn a bias?
        activation: str = "linear",  # 'linear' or 'lrelu'
        lr_multiplier: float = 1.0,  # learning-rate multiplier (equalised learning rate)
        bias_init: float = 0.0,      # initial bias value
    ):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return ops.bias_act(x.matmul(w.t()), b, act=self.activation)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, activation={self.activation}"


class MappingNetwork(nn.Module):
    """z (and an optional class label c) -> w, broadcast to ``num_ws`` layers."""

    def __init__(
        self,
        z_dim: int,                       # latent z dimensionality, 0 = none
        c_dim: int,                       # conditioning label dimensionality, 0 = none
        w_dim: int,                       # intermediate latent w dimensionality
        num_ws: int | None,               # number of ws to output, None = do not broadcast
        *,
        num_layers: int = 8,              # fully connected layers
        embed_features: int | None = None,  # label embedding size, None = w_dim
        layer_features: int | None = None,  # hidden layer size, None = w_dim
        lr_multiplier: float = 0.01,      # learning-rate multiplier of the layers
        w_avg_beta: float | None = 0.995,  # decay of the tracked average w, None = do not track
    ):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.num_ws, self.num_layers, self.w_avg_beta = num_ws, num_layers, w_avg_beta
        if embed_features is None:
            embed_features = w_dim
        if c_dim == 0:
            embed_features = 0
        if layer_features is None:
            layer_features = w_dim
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            layer = FullyConnectedLayer(
                features[idx], features[idx + 1], activation="lrelu", lr_multiplier=lr_multiplier
            )
            setattr(self, f"fc{idx}", layer)
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self,
        z: torch.Tensor | None,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_w_avg: bool = False,
    ) -> torch.Tensor:
        x = None
        if self.z_dim > 0:
            ops.assert_shape(z, [None, self.z_dim], "z")
            x = ops.normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            ops.assert_shape(c, [None, self.c_dim], "the class label c")
            y = ops.normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1) if x is not None else y
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        if update_w_avg and self.w_avg_beta is not None:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            x = truncate(x, self.w_avg, truncation_psi, truncation_cutoff)
        return x


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution, optional 2x upsampling, noise, bias, activation, clamp."""

    def __init__(
        self,
        in_channels: int,               # input feature channels
        out_channels: int,              # output feature channels
        w_dim: int,                     # w dimensionality
        resolution: int,                # output resolution
        *,
        kernel_size: int = 3,           # convolution kernel size
        up: int = 1,                    # upsampling factor (1 or 2)
        use_noise: bool = True,         # add per-pixel noise?
        activation: str = "lrelu",      # activation function
        conv_clamp: float | None = None,  # clamp the output to +-conv_clamp, None = off
    ):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.resolution, self.up, self.use_noise = resolution, up, use_noise
        self.activation, self.conv_clamp = activation, conv_clamp
        self.padding = kernel_size // 2
        self.act_gain = ops.ACTIVATION_GAINS[activation]
        self.register_buffer("resample_filter", ops.setup_filter())
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def forward(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        noise_mode: str = "const",
        gain: float = 1.0,
        noise_generator: torch.Generator | None = None,
        fused: bool | None = None,
    ) -> torch.Tensor:
        if fused is None and not torch.is_grad_enabled() and self._fast_path_ok():
            return self._forward_inference(x, w, noise_mode, gain, noise_generator)
        styles = self.affine(w)
        y, dcoefs = ops.modulated_conv2d(
            x, self.weight, styles, demodulate=True, up=self.up, padding=self.padding,
            resample_filter=self.resample_filter, fused=fused,
        )
        n = y.shape[0]
        y = y * dcoefs.to(y.dtype).reshape(n, -1, 1, 1)
        noise = self.noise(n, noise_mode, noise_generator, y)
        if noise is not None:
            y = y + noise
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return ops.bias_act(y, self.bias, act=self.activation, gain=self.act_gain * gain, clamp=clamp)

    def _fast_path_ok(self) -> bool:
        return self.weight.shape[-1] == 3 and self.resample_filter.shape == (4, 4) and self.activation == "lrelu"

    def _forward_inference(self, x, w, noise_mode, gain, generator) -> torch.Tensor:
        """The same function as ``forward``, arranged for speed when no gradient is needed.

        The activation gain is folded into the demodulation, bias and noise (leaky ReLU is
        positively homogeneous), the bias rides inside the last convolution, and the tail runs
        in place. When the activations outweigh the weights (H*W >= 9*C_out) each sample gets
        its own modulated weight; otherwise the batch shares the weight and the input is scaled.
        """
        n, _, h, wd = x.shape
        g = self.act_gain * gain
        # styles and demodulation in float32 whatever x is (a float16 block's sums of squares overflow)
        styles = self.affine(w).float()
        weight = self.weight.float()
        d = (styles.square() @ self._weight_sq(weight).t() + 1e-8).rsqrt() * g   # [n, out]
        bias = (self.bias.float() * g).to(x.dtype)
        # CPUs: per-image weights once activations outweigh weights; GPUs: one shared-weight batch
        per_sample = n == 1 or (x.device.type == "cpu" and h * wd >= 9 * self.out_channels)
        if per_sample:
            ys = [self._conv(x[i:i + 1], (weight * (d[i].reshape(-1, 1, 1, 1) * styles[i].reshape(1, -1, 1, 1)))
                             .to(x.dtype), bias) for i in range(n)]
            y = ys[0] if n == 1 else torch.cat(ys)
        else:
            y = self._conv(x * styles.to(x.dtype).reshape(n, -1, 1, 1), weight.to(x.dtype), None)
            y = torch.addcmul(bias.reshape(1, -1, 1, 1), y, d.to(x.dtype).reshape(n, -1, 1, 1))
        noise = self.noise(n, noise_mode, generator, y)
        if noise is not None:
            y.add_(noise * g)
        F.leaky_relu_(y, ops.LRELU_SLOPE)
        if self.conv_clamp is not None:
            clamp = self.conv_clamp * gain
            y.clamp_(-clamp, clamp)
        return y

    def _weight_sq(self, weight: torch.Tensor) -> torch.Tensor:
        """sum over the kernel of weight^2, [out, in]; cached while the weights stay the same."""
        key = (self.weight._version, self.weight.data_ptr(), weight.dtype, weight.device)
        if getattr(self, "_wsq_key", None) != key:
            self._wsq = weight.square().sum(dim=[2, 3])
            self._wsq_key = key
        return self._wsq

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """3x3 convolution, or for up=2 the transposed convolution followed by the FIR filter
        (as one depthwise convolution whose 1-pixel padding is the reference's)."""
        tile = ops.is_tiling()
        if self.up == 1:
            return F.conv2d(ops.circular(x, 1), weight, bias) if tile else F.conv2d(x, weight, bias, padding=1)
        margin = 3 if tile else 0      # a periodic input's wrapped margin: the crop below is the circular result
        if tile:
            x = ops.circular(x, margin)
        y = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
        c = y.shape[1]
        blur = (self.resample_filter.flip([0, 1]) * 4).to(y.dtype)[None, None].expand(c, 1, 4, 4)
        y = F.conv2d(y, blur, bias, padding=1, groups=c)
        if tile:
            h, w = (x.shape[2] - 2 * margin) * 2, (x.shape[3] - 2 * margin) * 2
            y = y[:, :, 2 * margin:2 * margin + h, 2 * margin:2 * margin + w].contiguous()
        return y

    def forward_regions(self, x: torch.Tensor, ws: torch.Tensor, masks: MaskFn, noise_mode: str = "const",
                        gain: float = 1.0, noise_generator=None) -> torch.Tensor:
        """One image [1, C, h, w] whose every pixel takes its style from the K ``ws`` [K, w_dim] in the
        proportions ``masks(h, w)`` [K, 1, h, w] gives: modulation before the convolution and
        demodulation after it are both blended per pixel, so inside a region that holds one w alone the
        result is exactly that w's."""
        if not self._fast_path_ok():
            raise ValueError("many latents on one canvas need the standard StyleGAN2 layers (3x3, [1,3,3,1], lrelu)")
        g = self.act_gain * gain
        styles = self.affine(ws).to(x.dtype)                                               # [K, in]
        weight = self.weight.to(x.dtype)
        d = (styles.square() @ self._weight_sq(weight).t() + 1e-8).rsqrt() * g              # [K, out]
        mask_in = masks(*x.shape[-2:]).to(x.dtype)
        y = self._conv(x * torch.einsum("kc,kxhw->xchw", styles, mask_in), weight, None)
        mask_out = masks(*y.shape[-2:]).to(x.dtype)
        y = y * torch.einsum("kc,kxhw->xchw", d, mask_out) + (self.bias.to(x.dtype) * g).reshape(1, -1, 1, 1)
        noise = self.noise(1, noise_mode, noise_generator, y)
        if noise is not None:
            y.add_(noise * g)
        F.leaky_relu_(y, ops.LRELU_SLOPE)
        if self.conv_clamp is not None:
            y.clamp_(-self.conv_clamp * gain, self.conv_clamp * gain)
        return y

    def noise(self, n: int, mode: str, generator, like: torch.Tensor):
        """The noise image added after the convolution, or None.

        ``generator`` (random mode) is one ``torch.Generator`` for the batch or a list with one
        per image, so an image's noise does not depend on the batch it was rendered in.
        """
        if not self.use_noise or mode == "none":
            return None
        h, w = like.shape[-2:]
        if mode == "const":
            noise = self.noise_const
            if (h, w) != tuple(noise.shape):             # a wider canvas: the stored noise, repeated
                noise = ops.widen(noise[None, None], h, w, "repeat")[0, 0]
            return (noise * self.noise_strength).to(like.dtype)
        if mode == "random":
            shape = [1, 1, h, w]
            if isinstance(generator, (list, tuple)):
                noise = torch.cat([torch.randn(shape, generator=g) for g in generator])
            elif generator is not None:
                noise = torch.randn([n] + shape[1:], generator=generator)
            else:
                noise = torch.randn([n] + shape[1:], device=like.device)
            return (noise.to(like.device) * self.noise_strength).to(like.dtype)
        raise ValueError(f"noise mode must be one of {NOISE_MODES}, got {mode!r}")


class ToRGBLayer(nn.Module):
    """Modulated 1x1 convolution without demodulation: features -> image channels."""

    def __init__(
        self,
        in_channels: int,               # input feature channels
        out_channels: int,              # image channels
        w_dim: int,                     # w dimensionality
        *,
        conv_clamp: float | None = None,  # clamp the output, None = off
    ):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused: bool | None = None) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        if fused is None and not torch.is_grad_enabled() and x.shape[0] == 1:
            weight = self.weight.to(x.dtype) * styles.to(x.dtype).reshape(1, -1, 1, 1)
            y = F.conv2d(x, weight, self.bias.to(x.dtype))
            return y.clamp_(-self.conv_clamp, self.conv_clamp) if self.conv_clamp is not None else y
        y, _ = ops.modulated_conv2d(x, self.weight, styles, demodulate=False, fused=fused)
        return ops.bias_act(y, self.bias, clamp=self.conv_clamp)


    def forward_regions(self, x: torch.Tensor, ws: torch.Tensor, masks: MaskFn) -> torch.Tensor:
        """Per-pixel blended styles (see :meth:`SynthesisLayer.forward_regions`)."""
        styles = (self.affine(ws) * self.weight_gain).to(x.dtype)                          # [K, in]
        mixed = torch.einsum("kc,kxhw->xchw", styles, masks(*x.shape[-2:]).to(x.dtype))
        y = F.conv2d(x * mixed, self.weight.to(x.dtype), self.bias.to(x.dtype))
        return y.clamp_(-self.conv_clamp, self.conv_clamp) if self.conv_clamp is not None else y


class Conv2dLayer(nn.Module):
    """Plain convolution with equalised learning rate and optional FIR up/downsampling."""

    def __init__(
        self,
        in_channels: int,               # input channels
        out_channels: int,              # output channels
        kernel_size: int,               # kernel width and height
        *,
        bias: bool = True,              # learn a bias?
        activation: str = "linear",     # 'linear' or 'lrelu'
        up: int = 1,                    # upsampling factor
        down: int = 1,                  # downsampling factor
        conv_clamp: float | None = None,  # clamp the output, None = off
    ):
        super().__init__()
        self.activation, self.up, self.down, self.conv_clamp = activation, up, down, conv_clamp
        self.register_buffer("resample_filter", ops.setup_filter())
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.act_gain = ops.ACTIVATION_GAINS[activation]
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        x = ops.conv2d_resample(x, w, self.resample_filter, up=self.up, down=self.down, padding=self.padding)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return ops.bias_act(x, self.bias, act=self.activation, gain=self.act_gain * gain, clamp=clamp)


# --------------------------------------------------------------------------------------------
# Generator


class SynthesisBlock(nn.Module):
    """One resolution of the synthesis network: (upsample +) two convolutions (+ ToRGB)."""

    def __init__(
        self,
        in_channels: int,              # input channels, 0 = first block (learned constant)
        out_channels: int,             # output channels
        w_dim: int,                    # w dimensionality
        resolution: int,               # resolution of this block
        img_channels: int,             # image channels
        is_last: bool,                 # the last block (always has a ToRGB)?
        *,
        architecture: str = "skip",    # 'orig', 'skip' or 'resnet'
        conv_clamp: float | None = None,  # clamp of every layer, None = off
        use_noise: bool = True,        # per-pixel noise in the convolutions?
    ):
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        self.in_channels, self.resolution, self.architecture = in_channels, resolution, architecture
        self.is_last, self.w_dim = is_last, w_dim
        self.register_buffer("resample_filter", ops.setup_filter())
        self.num_conv = self.num_torgb = 0
        layer_kwargs = dict(conv_clamp=conv_clamp, use_noise=use_noise)
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2, **layer_kwargs)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, **layer_kwargs)
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(in_channels, out_channels, kernel_size=1, bias=False, up=2)

    def forward(self, x, img, ws, noise_mode="const", noise_generator=None, fused=None):
        ops.assert_shape(ws, [None, self.num_conv + self.num_torgb, self.w_dim],
                         f"the ws of the {self.resolution} px block")
        wide = ops.canvas_units()
        if self.in_channels != 0:
            half = self.resolution // 2
            h_in, w_in = (half * wide[1] // 4, half * wide[0] // 4) if wide else (half, half)
            ops.assert_shape(x, [None, self.in_channels, h_in, w_in], f"the input of the {self.resolution} px block")
        w_iter = iter(ws.unbind(dim=1))
        kw = dict(noise_mode=noise_mode, noise_generator=noise_generator, fused=fused)
        dtype = ops.block_dtype(self.resolution, ws.dtype)
        if x is not None and x.dtype != dtype:
            x = x.to(dtype)
        if x is not None and dtype == torch.float16 and x.is_cuda:
            x = x.contiguous(memory_format=torch.channels_last)   # tensor cores' layout, as NVIDIA's fp16 blocks
        if self.in_channels == 0:
            x = self.const.to(dtype).unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
            if wide:                                 # a native wide or tall canvas: the constant, widened
                x = ops.widen(x, wide[1], wide[0], wide[2]).contiguous()
            if not torch.is_grad_enabled() and x.device.type == "cpu":
                x = x.contiguous(memory_format=torch.channels_last)  # oneDNN's fastest layout on CPUs
            x = self.conv1(x, next(w_iter), **kw)
        elif self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, next(w_iter), **kw)
            x = self.conv1(x, next(w_iter), gain=math.sqrt(0.5), **kw)
            x = y + x
        else:
            x = self.conv0(x, next(w_iter), **kw)
            x = self.conv1(x, next(w_iter), **kw)
        if img is not None:
            img = self.upsample_image(img)
        if self.is_last or self.architecture == "skip":
            y = self.torgb(x, next(w_iter), fused=fused).to(torch.float32)
            img = img + y if img is not None else y
        return x, img

    def forward_regions(self, x, img, ws, masks: MaskFn, noise_mode="const", noise_generator=None):
        """``forward`` for one canvas whose pixels blend the styles of K latents: ``ws`` [K, n, w_dim],
        ``masks(h, w)`` -> [K, 1, h, w] (see :meth:`SynthesisLayer.forward_regions`)."""
        w_iter = iter(ws.unbind(dim=1))
        kw = dict(masks=masks, noise_mode=noise_mode, noise_generator=noise_generator)
        if self.in_channels == 0:
            raise ValueError("the first block draws the constant: blend after it")
        if self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0.forward_regions(x, next(w_iter), **kw)
            x = y + self.conv1.forward_regions(x, next(w_iter), gain=math.sqrt(0.5), **kw)
        else:
            x = self.conv0.forward_regions(x, next(w_iter), **kw)
            x = self.conv1.forward_regions(x, next(w_iter), **kw)
        if img is not None:
            img = self.upsample_image(img)
        if self.is_last or self.architecture == "skip":
            y = self.torgb.forward_regions(x, next(w_iter), masks).to(torch.float32)
            img = img + y if img is not None else y
        return x, img

    def upsample_image(self, img: torch.Tensor) -> torch.Tensor:
        """Bring the running image of the skip architecture to this block's resolution."""
        return ops.upsample2d_any(img, self.resample_filter)


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image [N, C, H, W], roughly in [-1, 1]."""

    block_class = SynthesisBlock

    def __init__(
        self,
        w_dim: int,                         # w dimensionality
        img_resolution: int,                # output resolution
        img_channels: int,                  # output channels
        *,
        channels: dict[int, int] | None = None,  # channels per resolution, overrides base/max
        channel_base: int = 32768,          # channels = min(channel_base / res, channel_max)
        channel_max: int = 512,
        architecture: str = "skip",         # 'orig', 'skip' or 'resnet'
        conv_clamp: float | None = None,    # clamp of every layer, None = off
        use_noise: bool = True,             # per-pixel noise?
    ):
        super().__init__()
        log2 = _check_resolution(img_resolution)
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.block_resolutions = [2 ** i for i in range(2, log2 + 1)]
        if channels is None:
            channels = channel_table(img_resolution, channel_base, channel_max)
        self.channels = {int(k): int(v) for k, v in channels.items()}
        self.num_ws = 0
        for res in self.block_resolutions:
            in_channels = self.channels[res // 2] if res > 4 else 0
            block = self.block_class(
                in_channels, self.channels[res], w_dim, res, img_channels, is_last=res == img_resolution,
                architecture=architecture, conv_clamp=conv_clamp, use_noise=use_noise,
            )
            self.num_ws += block.num_conv
            if block.is_last:
                self.num_ws += block.num_torgb
            setattr(self, f"b{res}", block)

    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def block_ws(self, ws: torch.Tensor) -> list[torch.Tensor]:
        """Split ws per block; each ToRGB shares its w with the next block's first conv."""
        out, idx = [], 0
        for block in self.blocks():
            out.append(ws.narrow(1, idx, block.num_conv + block.num_torgb))
            idx += block.num_conv
        return out

    def preview_resolutions(self) -> list[int]:
        """Resolutions at which ``forward(max_resolution=...)`` can stop early: with the 'skip'
        architecture every block carries a finished image; otherwise only the last one does."""
        if self.blocks()[0].architecture == "skip":
            return list(self.block_resolutions)
        return [self.img_resolution]

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: str = "const",
        noise_generator: torch.Generator | None = None,
        fused: bool | None = None,
        max_resolution: int | None = None,
    ) -> torch.Tensor:
        """Render ws. ``max_resolution`` stops after that block and returns its image (a cheap
        preview, e.g. for CLIP, which sees 224 px anyway); see ``preview_resolutions``."""
        ops.assert_shape(ws, [None, self.num_ws, self.w_dim], "ws")
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        ws = ws.to(torch.float32)
        blocks, block_ws = self.blocks(), self.block_ws(ws)
        if max_resolution is not None and max_resolution < self.img_resolution:
            usable = [r for r in self.preview_resolutions() if r <= max_resolution]
            keep = max(usable) if usable else self.img_resolution
            count = sum(1 for b in blocks if b.resolution <= keep)
            blocks, block_ws = blocks[:count], block_ws[:count]
        split = len(blocks)
        if fused is None and not torch.is_grad_enabled() and ws.shape[0] > 1 and ws.device.type == "cpu":
            # Large resolutions render one image at a time: per-sample weights beat a shared
            # weight there, and the working set stays small (see SynthesisLayer._forward_inference).
            split = next((i for i, b in enumerate(blocks) if b.resolution >= PER_IMAGE_RESOLUTION), split)
        kw = dict(noise_mode=noise_mode, fused=fused)
        x = img = None
        for block, cur_ws in zip(blocks[:split], block_ws[:split]):
            x, img = block(x, img, cur_ws, noise_generator=noise_generator, **kw)
        if split == len(blocks):
            return img
        images = []
        for i in range(ws.shape[0]):
            gen = noise_generator[i:i + 1] if isinstance(noise_generator, (list, tuple)) else noise_generator
            xi, imgi = (x[i:i + 1] if x is not None else None), (img[i:i + 1] if img is not None else None)
            for block, cur_ws in zip(blocks[split:], block_ws[split:]):
                xi, imgi = block(xi, imgi, cur_ws[i:i + 1], noise_generator=gen, **kw)
            images.append(imgi)
        return torch.cat(images)


    def forward_regions(self, ws: torch.Tensor, masks: MaskFn, blend: int, noise_mode: str = "const",
                        noise_seed: int | None = None) -> torch.Tensor:
        """One canvas [1, C, H, W] from K latents ``ws`` [K, num_ws, w_dim] laid out by ``masks``.

        The blocks up to the ``blend`` px one render each latent's whole canvas; their features and
        running images are then mixed by the masks, and the later blocks blend the K styles pixel by
        pixel. A low ``blend`` shares the composition across the seams; a high one keeps each region's
        own. Random noise is the same for every region (``noise_seed``), so seams do not show it.
        """
        ops.assert_shape(ws, [None, self.num_ws, self.w_dim], "ws")
        if blend not in self.block_resolutions:
            raise ValueError(f"blend at one of {self.block_resolutions} px, got {blend}")
        ws = ws.to(torch.float32)
        stages = list(zip(self.blocks(), self.block_ws(ws)))
        early = [stage for stage in stages if stage[0].resolution <= blend]
        x = img = gen = None
        for k in range(ws.shape[0]):      # one region at a time: memory for two canvases, not K
            gens = None
            if noise_mode == "random":
                gens = [torch.Generator(device="cpu").manual_seed(0 if noise_seed is None else int(noise_seed))]
                gen = gen or gens[0]     # the later blocks draw on from where the first region left off
            xk = imgk = None
            for block, cur_ws in early:
                xk, imgk = block(xk, imgk, cur_ws[k:k + 1], noise_mode=noise_mode, noise_generator=gens)
            # the regions meet: features (and the running image) mixed by the masks
            part = xk * masks(*xk.shape[-2:])[k:k + 1].to(xk.dtype)
            x = part if x is None else x.add_(part)
            if imgk is not None:
                part = imgk * masks(*imgk.shape[-2:])[k:k + 1]
                img = part if img is None else img.add_(part)
        for block, cur_ws in stages[len(early):]:
            x, img = block.forward_regions(x, img, cur_ws, masks, noise_mode=noise_mode, noise_generator=gen)
        return img


class StoredConfig:
    """``to_dict`` / ``from_dict`` of a network config kept as JSON beside the weights: JSON keys are
    strings, so the ``channels`` map goes out with string keys and comes back with int ones; a setting
    the class does not have is refused by name (``role`` says whose)."""

    role = "generator"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = {str(k): v for k, v in self.channels.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown {cls.role} settings: {sorted(unknown)}")
        d = dict(d)
        d["channels"] = {int(k): int(v) for k, v in (d.get("channels") or {}).items()}
        return cls(**d)


@dataclass
class GeneratorConfig(StoredConfig):
    """Everything needed to rebuild a generator; stored as JSON beside the weights."""

    z_dim: int = 512
    c_dim: int = 0
    w_dim: int = 512
    img_resolution: int = 1024
    img_channels: int = 3
    mapping_layers: int = 8
    mapping_lr_multiplier: float = 0.01
    embed_features: int | None = None
    layer_features: int | None = None
    architecture: str = "skip"
    channels: dict[int, int] = field(default_factory=dict)  # empty = from channel_base/max
    channel_base: int = 32768
    channel_max: int = 512
    conv_clamp: float | None = None
    use_noise: bool = True
    kind: str = "stylegan2"

    def __post_init__(self) -> None:
        check_network_bounds(self)



class MappedGenerator(nn.Module):
    """What every generator shares: ``mapping`` (z, c -> ws) then ``synthesis`` (ws -> image), and
    the tracked average w that truncation pulls toward."""

    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping.w_avg

    def forward(self, z, c=None, truncation_psi=1.0, truncation_cutoff=None, noise_mode="const", **kwargs):
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, **kwargs)


class Generator(MappedGenerator):
    """z, c -> image. ``mapping`` and ``synthesis`` can be called separately to work in W."""

    synthesis_class = SynthesisNetwork

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        self.config = config
        self.z_dim, self.c_dim, self.w_dim = config.z_dim, config.c_dim, config.w_dim
        self.img_resolution, self.img_channels = config.img_resolution, config.img_channels
        self.synthesis = self.synthesis_class(
            config.w_dim, config.img_resolution, config.img_channels,
            channels=config.channels or None, channel_base=config.channel_base, channel_max=config.channel_max,
            architecture=config.architecture, conv_clamp=config.conv_clamp, use_noise=config.use_noise,
        )
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            config.z_dim, config.c_dim, config.w_dim, self.num_ws,
            num_layers=config.mapping_layers, embed_features=config.embed_features,
            layer_features=config.layer_features, lr_multiplier=config.mapping_lr_multiplier,
        )


# --------------------------------------------------------------------------------------------
# Discriminator


class DiscriminatorBlock(nn.Module):
    def __init__(
        self,
        in_channels: int,              # input channels, 0 = first block (reads the image)
        tmp_channels: int,             # channels inside the block
        out_channels: int,             # output channels
        resolution: int,               # resolution of this block
        img_channels: int,             # image channels
        *,
        architecture: str = "resnet",  # 'orig', 'skip' or 'resnet'
        conv_clamp: float | None = None,  # clamp of every layer, None = off
    ):
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        self.in_channels, self.resolution, self.architecture = in_channels, resolution, architecture
        self.register_buffer("resample_filter", ops.setup_filter())
        if in_channels == 0 or architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=2, conv_clamp=conv_clamp)
        if architecture == "resnet":
            self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2)

    def forward(self, x, img):
        if self.in_channels != 0:
            ops.assert_shape(x, [None, self.in_channels, self.resolution, self.resolution],
                             f"the input of the discriminator's {self.resolution} px block")
        if self.in_channels == 0 or self.architecture == "skip":
            y = self.fromrgb(img.to(torch.float32))
            x = x + y if x is not None else y
            img = ops.downsample2d(img, self.resample_filter) if self.architecture == "skip" else None
        if self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x)
            x = self.conv1(x, gain=math.sqrt(0.5))
            x = y + x
        else:
            x = self.conv1(self.conv0(x))
        return x, img


class MinibatchStdLayer(nn.Module):
    def __init__(self, group_size: int | None, num_channels: int = 1):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n) if self.group_size is not None else n
        if n % g:
            raise ValueError(f"batch size {n} must be divisible by the minibatch-std group size {g}")
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)      # sample i belongs to group i % (n / g)
        y = (y - y.mean(dim=0)).square().mean(dim=0)
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])  # [n/g, f]
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    def __init__(
        self,
        in_channels: int,              # input channels
        cmap_dim: int,                 # label projection size, 0 = unconditional
        resolution: int,               # resolution (4)
        img_channels: int,             # image channels
        *,
        architecture: str = "resnet",  # 'orig', 'skip' or 'resnet'
        mbstd_group_size: int | None = 4,  # minibatch-std group size, None = whole batch
        mbstd_num_channels: int = 1,   # minibatch-std features, 0 = off
        conv_clamp: float | None = None,  # clamp, None = off
    ):
        super().__init__()
        self.cmap_dim, self.architecture = cmap_dim, architecture
        if architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, in_channels, 1, activation="lrelu")
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, 3, activation="lrelu",
                                conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * resolution ** 2, in_channels, activation="lrelu")
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x, img, cmap=None):
        x = x.to(torch.float32)
        if self.architecture == "skip":
            x = x + self.fromrgb(img.to(torch.float32))
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.fc(x.flatten(1))
        x = self.out(x)
        if self.cmap_dim > 0:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / np.sqrt(self.cmap_dim))
        return x


@dataclass
class DiscriminatorConfig(StoredConfig):
    role = "discriminator"

    c_dim: int = 0
    img_resolution: int = 1024
    img_channels: int = 3
    architecture: str = "resnet"
    channels: dict[int, int] = field(default_factory=dict)
    channel_base: int = 32768
    channel_max: int = 512
    conv_clamp: float | None = None
    cmap_dim: int | None = None
    mapping_layers: int = 8
    mbstd_group_size: int | None = 4
    mbstd_num_channels: int = 1

    def __post_init__(self) -> None:
        check_network_bounds(self, role="discriminator")



class Discriminator(nn.Module):
    """image (, label) -> realness logit [N, 1]."""

    def __init__(self, config: DiscriminatorConfig):
        super().__init__()
        self.config = config
        log2 = _check_resolution(config.img_resolution)
        self.c_dim, self.img_resolution = config.c_dim, config.img_resolution
        self.img_channels = config.img_channels
        self.block_resolutions = [2 ** i for i in range(log2, 2, -1)]
        channels = config.channels or channel_table(config.img_resolution, config.channel_base, config.channel_max)
        channels = {int(k): int(v) for k, v in channels.items()}
        cmap_dim = config.cmap_dim if config.cmap_dim is not None else channels[4]
        if config.c_dim == 0:
            cmap_dim = 0
        for res in self.block_resolutions:
            in_channels = channels[res] if res < config.img_resolution else 0
            block = DiscriminatorBlock(in_channels, channels[res], channels[res // 2], res, config.img_channels,
                                       architecture=config.architecture, conv_clamp=config.conv_clamp)
            setattr(self, f"b{res}", block)
        if config.c_dim > 0:
            self.mapping = MappingNetwork(0, config.c_dim, cmap_dim, None, num_layers=config.mapping_layers,
                                          w_avg_beta=None)
        self.b4 = DiscriminatorEpilogue(
            channels[4], cmap_dim, 4, config.img_channels, architecture=config.architecture,
            mbstd_group_size=config.mbstd_group_size, mbstd_num_channels=config.mbstd_num_channels,
            conv_clamp=config.conv_clamp,
        )

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        ops.assert_shape(img, [None, self.img_channels, self.img_resolution, self.img_resolution], "the image")
        x = None
        for res in self.block_resolutions:
            x, img = getattr(self, f"b{res}")(x, img)
        cmap = self.mapping(None, c) if self.c_dim > 0 else None
        return self.b4(x, img, cmap)
