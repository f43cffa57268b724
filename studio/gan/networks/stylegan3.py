"""StyleGAN3 generator ("Alias-Free Generative Adversarial Networks", Karras et al. 2021), in plain PyTorch.

The network, as the paper describes it:

* a mapping network (2 layers by default, an optional label embedding) from z to w;
* a Fourier-feature input: sinusoids of fixed frequencies and phases sampled on a grid with a
  margin, rotated and translated per image by an affine layer of the first w, and by the
  network's ``transform`` buffer (the user's translate / rotate), then mixed by a linear layer;
* 14 layers (+ a ToRGB) whose cutoff, stopband and sampling rate follow a geometric schedule
  from ``first_cutoff`` to half the image resolution; the last ``num_critical`` layers are
  critically sampled. Each layer is a modulated convolution (3x3 for -T, 1x1 for -R) with its
  input scaled by the tracked magnitude of what reaches it, then the filtered leaky ReLU:
  upsample by zero insertion and low-pass filter, leaky ReLU with gain sqrt(2) and clamp,
  low-pass filter and subsample. -R uses radially symmetric down-filters (jinc windowed by a
  Kaiser window) where the layer is not critically sampled;
* a linear ToRGB layer, and the output scaled by ``output_scale``.

Module and tensor names mirror NVIDIA's files (``synthesis.L3_52_512.up_filter``,
``synthesis.input.freqs``, ...), so a state dict read from a pickle loads as it is.

Rendering is organised for the CPU: resampling uses polyphase separable filters (no
multiplications by inserted zeros, no filtered pixels thrown away by the subsampling), and
the filtered activation runs a few channels at a time so that a 1024 px image never
materialises the whole 2x-upsampled tensor.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from studio.gan.networks import ops
from studio.gan.networks.stylegan2 import (
    MAX_CHANNELS,
    MAX_DIM,
    MAX_MAPPING_LAYERS,
    MAX_PARAMETERS,
    MAX_CLASSES,
    MAX_RESOLUTION,
    FullyConnectedLayer,
    MappedGenerator,
    MappingNetwork,
    _whole,
)

MAX_LAYERS = 64
#: elements of the upsampled activation filtered at once (x 4 bytes): small enough to stay in the
#: CPU's caches (measured fastest on a 2-core AVX2 machine) and to bound the peak memory
FILTER_CHUNK_ELEMENTS = 1 << 20
#: elements of a layer's convolution output above which one image's output is made in slices
CONV_CHUNK_ELEMENTS = 1 << 23


# --------------------------------------------------------------------------------------------
# Filter design (window method), from the formulas of the Kaiser window and the jinc function


def kaiser_beta(numtaps: int, width: float) -> float:
    """Kaiser's beta for a filter of ``numtaps`` taps and a transition ``width`` as a fraction of Nyquist."""
    attenuation = 2.285 * (numtaps - 1) * math.pi * width + 7.95
    if attenuation > 50:
        return 0.1102 * (attenuation - 8.7)
    if attenuation > 21:
        return 0.5842 * (attenuation - 21) ** 0.4 + 0.07886 * (attenuation - 21)
    return 0.0


def design_lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False) -> torch.Tensor | None:
    """A low-pass FIR filter with unit DC gain: 1-D (separable) or 2-D radially symmetric.

    ``cutoff`` and ``width`` (the transition band) are in the units of the sampling rate ``fs``.
    None for a single tap (no filtering).
    """
    if numtaps < 1:
        raise ValueError(f"a filter needs at least one tap, got {numtaps}")
    if numtaps == 1:
        return None
    nyquist = fs / 2
    beta = kaiser_beta(numtaps, width / nyquist)
    window = np.kaiser(numtaps, beta)
    if not radial:
        t = np.arange(numtaps) - (numtaps - 1) / 2
        c = cutoff / nyquist
        f = c * np.sinc(c * t) * window
        return torch.as_tensor(f / f.sum(), dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = torch.as_tensor(np.hypot(*np.meshgrid(x, x)), dtype=torch.float64)
    arg = 2 * cutoff * math.pi * r
    f = (torch.special.bessel_j1(arg) / (math.pi * r)).numpy()
    f = f * np.outer(window, window)
    return torch.as_tensor(f / f.sum(), dtype=torch.float32)


# --------------------------------------------------------------------------------------------
# Configuration and layer schedule


@dataclass
class Stylegan3Config:
    """Everything needed to rebuild a StyleGAN3 generator; stored as JSON beside the weights.

    ``channels`` lists each synthesis layer's output channels (the input's first); empty means
    ``min(channel_base / 2 / cutoff, channel_max)`` as in the paper's configurations.
    """

    role = "generator"

    z_dim: int = 512
    c_dim: int = 0
    w_dim: int = 512
    img_resolution: int = 1024
    img_channels: int = 3
    mapping_layers: int = 2
    mapping_lr_multiplier: float = 0.01
    w_avg_beta: float = 0.998
    channel_base: int = 32768
    channel_max: int = 512
    channels: list[int] = field(default_factory=list)
    num_layers: int = 14
    num_critical: int = 2
    first_cutoff: float = 2.0
    first_stopband: float = 2 ** 2.1
    last_stopband_rel: float = 2 ** 0.3
    margin_size: int = 10
    output_scale: float = 0.25
    conv_kernel: int = 3
    filter_size: int = 6
    lrelu_upsampling: int = 2
    use_radial_filters: bool = False
    conv_clamp: float | None = 256
    magnitude_ema_beta: float = 0.999
    kind: str = "stylegan3"

    def __post_init__(self) -> None:
        check_bounds(self)

    @property
    def variant(self) -> str:
        """'stylegan3-r' (rotation equivariant: 1x1 convolutions, radial filters) or 'stylegan3-t'."""
        return "stylegan3-r" if self.conv_kernel == 1 else "stylegan3-t"

    @property
    def num_ws(self) -> int:
        return self.num_layers + 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Stylegan3Config":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown {cls.role} settings: {sorted(unknown)}")
        d = dict(d)
        channels = d.get("channels") or []
        if not isinstance(channels, list):
            raise ValueError(f"the generator's channels must be a list of whole numbers, got {type(channels).__name__}")
        return cls(**d)


def _number(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low:g} to {high:g}, got {value:g}")
    return float(value)


def check_bounds(config: Stylegan3Config) -> None:
    """Refuse settings no real StyleGAN3 network has, naming the value, before anything is allocated."""
    what = "the generator's"
    res = _whole(f"{what} img_resolution", config.img_resolution, 4, MAX_RESOLUTION)
    _whole(f"{what} img_channels", config.img_channels, 1, 4)
    _whole(f"{what} c_dim", config.c_dim, 0, MAX_CLASSES)
    _whole(f"{what} z_dim", config.z_dim, 1, MAX_DIM)
    _whole(f"{what} w_dim", config.w_dim, 1, MAX_DIM)
    _whole(f"{what} mapping_layers", config.mapping_layers, 1, MAX_MAPPING_LAYERS)
    _whole(f"{what} channel_base", config.channel_base, 1, MAX_CHANNELS * MAX_RESOLUTION)
    _whole(f"{what} channel_max", config.channel_max, 1, MAX_CHANNELS)
    _whole(f"{what} num_layers", config.num_layers, 1, MAX_LAYERS)
    _whole(f"{what} num_critical", config.num_critical, 0, config.num_layers - 1)
    _whole(f"{what} margin_size", config.margin_size, 0, 256)
    _whole(f"{what} conv_kernel", config.conv_kernel, 1, 7)
    _whole(f"{what} filter_size", config.filter_size, 1, 16)
    _whole(f"{what} lrelu_upsampling", config.lrelu_upsampling, 1, 4)
    _number(f"{what} first_cutoff", config.first_cutoff, 0.5, res / 2)
    _number(f"{what} first_stopband", config.first_stopband, config.first_cutoff, res)
    _number(f"{what} last_stopband_rel", config.last_stopband_rel, 1.0, 4.0)
    _number(f"{what} output_scale", config.output_scale, -1e6, 1e6)
    _number(f"{what} mapping_lr_multiplier", config.mapping_lr_multiplier, 1e-6, 1e3)
    if config.conv_clamp is not None:
        _number(f"{what} conv_clamp", config.conv_clamp, 0, 1e9)
    if not isinstance(config.use_radial_filters, bool):
        raise ValueError(f"{what} use_radial_filters must be true or false, got {config.use_radial_filters!r}")
    if config.channels:
        if len(config.channels) != config.num_layers + 1:
            raise ValueError(f"{what} channels list {len(config.channels)} layers; its {config.num_layers} layers "
                             f"and ToRGB need {config.num_layers + 1}")
        for i, c in enumerate(config.channels):
            _whole(f"{what} channels of layer {i}", c, 1, MAX_CHANNELS)
    geometry = layer_geometry(config)
    params = sum(layer["in_channels"] * layer["out_channels"] * layer["conv_kernel"] ** 2 for layer in geometry["layers"])
    if params > MAX_PARAMETERS:
        raise ValueError(f"{what} settings describe a network of about {params / 1e6:,.0f} M parameters; the "
                         f"studio opens networks of up to {MAX_PARAMETERS / 1e6:,.0f} M")


def layer_geometry(config: Stylegan3Config) -> dict[str, Any]:
    """The input's and every layer's sizes, sampling rates, cutoffs, half widths, channels and padding.

    Cutoffs and stopbands grow geometrically from the first layer to the last critical ones
    (where the cutoff reaches half the image resolution); each layer samples at the smallest
    power of two above twice its stopband; every feature map carries a margin of
    ``margin_size`` pixels on each side except the last two, which are the image's size.
    """
    n, res = config.num_layers, config.img_resolution
    last_cutoff = res / 2
    last_stopband = last_cutoff * config.last_stopband_rel
    exponents = np.minimum(np.arange(n + 1) / max(n - config.num_critical, 1), 1)
    cutoffs = config.first_cutoff * (last_cutoff / config.first_cutoff) ** exponents
    stopbands = config.first_stopband * (last_stopband / config.first_stopband) ** exponents
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, res))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + config.margin_size * 2
    sizes[-2:] = res
    if config.channels:
        channels = [int(c) for c in config.channels]
    else:
        channels = [int(c) for c in np.rint(np.minimum((config.channel_base / 2) / cutoffs, config.channel_max))]
    channels[-1] = config.img_channels
    layers = []
    for idx in range(n + 1):
        prev = max(idx - 1, 0)
        is_torgb = idx == n
        kernel = 1 if is_torgb else config.conv_kernel
        tmp_rate = max(rates[prev], rates[idx]) * (1 if is_torgb else config.lrelu_upsampling)
        up = int(np.rint(tmp_rate / rates[prev]))
        down = int(np.rint(tmp_rate / rates[idx]))
        up_taps = config.filter_size * up if up > 1 and not is_torgb else 1
        down_taps = config.filter_size * down if down > 1 and not is_torgb else 1
        critical = idx >= n - config.num_critical
        in_size, out_size = int(sizes[prev]), int(sizes[idx])
        # padding so that the output lands on the sample grid (the paper's symmetric interpretation)
        pad_total = (out_size - 1) * down + 1 - (in_size + kernel - 1) * up + up_taps + down_taps - 2
        pad_lo = (pad_total + up) // 2
        pad_hi = pad_total - pad_lo
        layers.append(dict(
            name=f"L{idx}_{out_size}_{channels[idx]}", is_torgb=is_torgb, is_critically_sampled=critical,
            in_channels=channels[prev], out_channels=channels[idx], in_size=in_size, out_size=out_size,
            in_sampling_rate=float(rates[prev]), out_sampling_rate=float(rates[idx]), tmp_sampling_rate=float(tmp_rate),
            in_cutoff=float(cutoffs[prev]), out_cutoff=float(cutoffs[idx]),
            in_half_width=float(half_widths[prev]), out_half_width=float(half_widths[idx]),
            up_factor=up, down_factor=down, up_taps=up_taps, down_taps=down_taps,
            down_radial=bool(config.use_radial_filters and not critical), conv_kernel=kernel,
            padding=[int(pad_lo), int(pad_hi), int(pad_lo), int(pad_hi)],
        ))
    return dict(
        input=dict(channels=channels[0], size=int(sizes[0]), sampling_rate=float(rates[0]), bandwidth=float(cutoffs[0])),
        layers=layers,
    )


# --------------------------------------------------------------------------------------------
# Resampling


def _as(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``t`` in ``dtype``, converted only if it differs (an exported graph then holds no casts that do nothing,
    which ONNX Runtime's optimiser mishandles on initialisers)."""
    return t if t.dtype == dtype else t.to(dtype)


def _filter_1d(x: torch.Tensor, f: torch.Tensor, dim: int, up: int, down: int, pad0: int, pad1: int) -> torch.Tensor:
    """Upsample by zero insertion, pad, convolve with ``f`` (true convolution) and keep every
    ``down``-th sample, along one spatial dimension (2 = rows, 3 = columns) of [N, C, H, W].

    Upsampling runs polyphase: output sample j of phase p = j mod ``up`` only meets the taps
    that land on real samples, so each phase is a short filter over the input; one grouped
    convolution computes all phases and a reshape interleaves them. No multiplication touches
    an inserted zero, and downsampling is a strided convolution (nothing filtered is dropped).
    """
    c, length = int(x.shape[1]), int(x.shape[dim])     # ints: a traced graph keeps only the batch symbolic
    taps = int(f.shape[0])
    out_len = (length * up + pad0 + pad1 - taps) // down + 1
    g = _as(f, x.dtype).flip(0)                          # convolution, not correlation

    def shaped(k: torch.Tensor) -> torch.Tensor:       # [rows, L] -> the weight of a 1-D pass along dim
        return k.reshape(k.shape[0], 1, 1, -1) if dim == 3 else k.reshape(k.shape[0], 1, -1, 1)

    if up == 1:
        x = _pad_dim(x, dim, pad0, pad1)
        stride = (1, down) if dim == 3 else (down, 1)
        return F.conv2d(x, shaped(g[None]).expand(c, -1, -1, -1), stride=stride, groups=c)
    if down != 1:
        raise ValueError("resampling up and down in one pass is not used by StyleGAN3")
    # Phase p reads input samples start_p + m + k with the taps g[first_p::up], first_p chosen so
    # that the tap lands on a real (not inserted) sample.
    phases = []
    for p in range(up):
        first = (pad0 - p) % up
        phases.append(((p + first - pad0) // up, g[first::up]))
    lo = min(start for start, _ in phases)
    width = max(start - lo + k.shape[0] for start, k in phases)
    kernel = x.new_zeros(up, width)
    for p, (start, k) in enumerate(phases):
        kernel[p, start - lo:start - lo + k.shape[0]] = k
    count = -(-out_len // up)                          # samples per phase
    x = _pad_dim(x, dim, -lo, lo + count + width - 1 - length)
    y = F.conv2d(x, shaped(kernel).repeat(c, 1, 1, 1), groups=c)   # channel c*up + p: phase p of c
    rows, cols = int(y.shape[2]), int(y.shape[3])
    if dim == 3:
        y = y.view(-1, c, up, rows, count).permute(0, 1, 3, 4, 2).reshape(-1, c, rows, count * up)
    else:
        y = y.view(-1, c, up, count, cols).permute(0, 1, 3, 2, 4).reshape(-1, c, count * up, cols)
    return y.narrow(dim, 0, out_len) if count * up != out_len else y


def _pad_dim(x: torch.Tensor, dim: int, lo: int, hi: int) -> torch.Tensor:
    """Zero-pad (positive) or crop (negative) one spatial dimension."""
    if lo < 0:
        x = x.narrow(dim, -lo, int(x.shape[dim]) + lo)
        lo = 0
    if hi < 0:
        x = x.narrow(dim, 0, int(x.shape[dim]) + hi)
        hi = 0
    if lo or hi:
        x = F.pad(x, [lo, hi, 0, 0] if dim == 3 else [0, 0, lo, hi])
    return x


def filtered_lrelu(
    x: torch.Tensor,
    up_filter: torch.Tensor | None,
    down_filter: torch.Tensor | None,
    bias: torch.Tensor,
    *,
    up: int,
    down: int,
    padding: list[int],
    gain: float,
    slope: float,
    clamp: float | None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Bias, upsample (``up_filter``), leaky ReLU with gain and clamp, downsample (``down_filter``).

    Filters are 1-D (separable) or, for the down filter of -R layers, 2-D. ``padding`` is
    (x0, x1, y0, y1) around the upsampled signal. The work is done a few channels at a time:
    channels are independent here, and this keeps the upsampled tensor small. ``out`` (optional,
    the result's shape) receives the result.
    """
    if torch.onnx.is_in_onnx_export():   # a graph keeps images apart: no shape may depend on the batch
        y = _filtered_lrelu_chunk(x, up_filter, down_filter, bias, up, down, padding, gain, slope, clamp)
        return y if out is None else out.copy_(y)
    n, c, h, w = x.shape
    px0, px1, py0, py1 = padding
    # Every channel of every image is filtered on its own: fold the batch into the channels and
    # work through them a few at a time, so that what is being filtered stays in the caches.
    x = x.reshape(1, n * c, h, w)
    bias = bias.repeat(n) if n > 1 else bias
    up_h, up_w = h * up + py0 + py1, w * up + px0 + px1
    step = max(1, FILTER_CHUNK_ELEMENTS // max(1, up_h * up_w))
    if step >= n * c and out is None:
        y = _filtered_lrelu_chunk(x, up_filter, down_filter, bias, up, down, padding, gain, slope, clamp)
        return y.reshape(n, c, *y.shape[2:])
    y = None if out is None else out.reshape(1, n * c, *out.shape[2:])
    for i in range(0, n * c, step):
        part = _filtered_lrelu_chunk(x[:, i:i + step], up_filter, down_filter, bias[i:i + step], up, down, padding,
                                     gain, slope, clamp)
        if y is None:                                   # the result is written in place, never concatenated
            y = part.new_empty(1, n * c, *part.shape[2:])
        y[:, i:i + step] = part
    return y.reshape(n, c, *y.shape[2:])


def _filtered_lrelu_chunk(x, fu, fd, b, up, down, padding, gain, slope, clamp):
    px0, px1, py0, py1 = padding
    x = x + _as(b, x.dtype).reshape(1, -1, 1, 1)
    if fu is None:
        x = _pad_dim(_pad_dim(x, 3, px0, px1), 2, py0, py1)
        if up > 1:
            raise ValueError("upsampling needs an up filter")
    else:
        # gain up**2 over the two dimensions; the activation's gain too, where the leaky ReLU
        # (positively homogeneous) lets it move in front: one pass over the big tensor fewer
        fold = gain if slope != 1 and gain > 0 else 1.0
        fu = fu * (up * math.sqrt(fold))
        x = _filter_1d(x, fu, 3, up, 1, px0, px1)
        x = _filter_1d(x, fu, 2, up, 1, py0, py1)
        gain = gain / fold
    inplace = not torch.is_grad_enabled()
    if slope != 1:
        x = F.leaky_relu_(x, slope) if inplace and x.is_contiguous() else F.leaky_relu(x, slope)
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp_(-clamp, clamp) if inplace and x.is_contiguous() else x.clamp(-clamp, clamp)
    if fd is None:
        if down > 1:
            x = x[:, :, ::down, ::down]
        return x
    if fd.ndim == 1:
        x = _filter_1d(x, fd, 3, 1, down, 0, 0)
        return _filter_1d(x, fd, 2, 1, down, 0, 0)
    k = _as(fd, x.dtype).flip([0, 1])
    c = x.shape[1]
    return F.conv2d(x, k[None, None].expand(c, 1, -1, -1), stride=down, groups=c)



# --------------------------------------------------------------------------------------------
# Layers


def canvas_shape(size: int, sampling_rate: float) -> tuple[int, int]:
    """(height, width) of a feature map of ``size`` (square, margins included) on the current native
    canvas (:func:`ops.canvas`): the sample grid grows by whole quarters of the unit square at the map's
    own sampling rate, the margins stay, so every layer's padding is the square's."""
    wide = ops.canvas_units()
    if not wide:
        return size, size
    grown = []
    for units in (wide[1], wide[0]):
        extra = sampling_rate * (units - 4) / 4
        if extra != int(extra):
            raise ValueError(f"a {units}/4 canvas does not land on this network's {sampling_rate:g}-sample grid")
        grown.append(size + int(extra))
    return grown[0], grown[1]


class SynthesisInput(nn.Module):
    """Fourier features: ``channels`` sinusoids sampled on a ``size`` x ``size`` grid, mixed linearly."""

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float):
        super().__init__()
        self.w_dim, self.channels, self.size = w_dim, channels, size
        self.sampling_rate, self.bandwidth = sampling_rate, bandwidth
        freqs = torch.randn([channels, 2])
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth
        self.weight = nn.Parameter(torch.randn([channels, channels]))
        self.affine = FullyConnectedLayer(w_dim, 4)
        with torch.no_grad():  # starts as the identity: no rotation, no translation
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        self.register_buffer("transform", torch.eye(3))
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand([channels]) - 0.5)

    def forward(self, w: torch.Tensor, view: torch.Tensor | None = None) -> torch.Tensor:
        """Features for the first w; ``view`` (3x3, see :func:`view_transform`) moves the sample grid
        after the network's own ``transform``."""
        n = w.shape[0]
        t = self.affine(w)                                           # [N, 4]: cos, sin, tx, ty
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        eye = torch.eye(3, device=w.device, dtype=w.dtype)
        rotation = eye.repeat(n, 1, 1)
        rotation[:, 0, 0], rotation[:, 0, 1] = t[:, 0], -t[:, 1]
        rotation[:, 1, 0], rotation[:, 1, 1] = t[:, 1], t[:, 0]
        translation = eye.repeat(n, 1, 1)
        translation[:, 0, 2], translation[:, 1, 2] = -t[:, 2], -t[:, 3]
        base = _as(self.transform, w.dtype)
        if view is not None:
            base = base @ view.to(device=w.device, dtype=w.dtype)
        transforms = rotation @ translation @ base.unsqueeze(0)
        freqs = _as(self.freqs, w.dtype).unsqueeze(0)                   # [1, C, 2]
        phases = _as(self.phases, w.dtype).unsqueeze(0) + (freqs @ transforms[:, :2, 2:]).squeeze(2)
        freqs = freqs @ transforms[:, :2, :2]                        # [N, C, 2]
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        height, width = canvas_shape(self.size, self.sampling_rate)
        xs, ys = ((torch.arange(size, device=w.device, dtype=w.dtype) + 0.5 - size / 2) / self.sampling_rate
                  for size in (width, height))
        # [N, H, W, C] = x * fx + y * fy + phase
        x = (xs.reshape(1, 1, -1, 1) * freqs[:, None, None, :, 0]
             + ys.reshape(1, -1, 1, 1) * freqs[:, None, None, :, 1]
             + phases[:, None, None, :])
        x = torch.sin(x * (2 * math.pi)) * amplitudes[:, None, None, :]
        x = x @ (_as(self.weight, w.dtype) / math.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2).contiguous()

    def extra_repr(self) -> str:
        return f"channels={self.channels}, size={self.size}, sampling_rate={self.sampling_rate:g}, bandwidth={self.bandwidth:g}"


class SynthesisLayer(nn.Module):
    """Modulated convolution and the filtered leaky ReLU of one StyleGAN3 layer (or the linear ToRGB)."""

    def __init__(self, w_dim: int, spec: dict[str, Any], *, filter_size: int, conv_clamp: float | None,
                 magnitude_ema_beta: float, design_filters: bool = True):
        super().__init__()
        self.w_dim = w_dim
        for key in ("is_torgb", "in_channels", "out_channels", "in_size", "out_size", "up_factor", "down_factor",
                    "conv_kernel", "padding", "down_radial", "in_sampling_rate", "out_sampling_rate",
                    "tmp_sampling_rate", "in_cutoff", "out_cutoff", "in_half_width", "out_half_width"):
            setattr(self, key, spec[key])
        self.conv_clamp, self.magnitude_ema_beta = conv_clamp, magnitude_ema_beta
        self.affine = FullyConnectedLayer(w_dim, self.in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([self.out_channels, self.in_channels, self.conv_kernel, self.conv_kernel]))
        self.bias = nn.Parameter(torch.zeros([self.out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))
        up = design_lowpass_filter(spec["up_taps"], self.in_cutoff, self.in_half_width * 2, self.tmp_sampling_rate)
        down = design_lowpass_filter(spec["down_taps"], self.out_cutoff, self.out_half_width * 2,
                                     self.tmp_sampling_rate, radial=self.down_radial)
        self.register_buffer("up_filter", up)
        self.register_buffer("down_filter", down)

    def forward(self, x: torch.Tensor, w: torch.Tensor, update_emas: bool = False,
                fused: bool | None = None) -> torch.Tensor:
        ops.assert_shape(x, [None, self.in_channels, *canvas_shape(self.in_size, self.in_sampling_rate)],
                         f"the input of {self.extra_name()}")
        if update_emas:
            with torch.no_grad():
                magnitude = x.detach().to(torch.float32).square().mean()
                self.magnitude_ema.copy_(magnitude.lerp(self.magnitude_ema, self.magnitude_ema_beta))
        styles = self.affine(w)
        k = self.conv_kernel
        conv_elements = self.out_channels * (x.shape[2] + k - 1) * (x.shape[3] + k - 1)
        if fused is False or x.shape[0] != 1 or torch.is_grad_enabled() or conv_elements <= CONV_CHUNK_ELEMENTS:
            return self._activate(self._modulated_conv(x, styles, fused), self.bias)
        # One large image: the convolution's output is made a slice of channels at a time and
        # filtered straight away, so that it never exists whole beside the layer's input and output.
        weight = self._image_weight(x, styles)
        step = max(16, CONV_CHUNK_ELEMENTS // ((x.shape[2] + k - 1) * (x.shape[3] + k - 1)))
        out = x.new_empty(1, self.out_channels, *canvas_shape(self.out_size, self.out_sampling_rate))
        flat = x.reshape(self.in_channels, -1) if k == 1 else None
        for i in range(0, self.out_channels, step):
            if flat is not None:   # a 1x1 convolution is a product of matrices, with no copy of the input
                y = (weight[i:i + step].reshape(-1, self.in_channels) @ flat).reshape(1, -1, *x.shape[2:])
            else:
                y = F.conv2d(x, weight[i:i + step], padding=k - 1)
            self._activate(y, self.bias[i:i + step], out=out[:, i:i + step])
        return out

    def _activate(self, y: torch.Tensor, bias: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        return filtered_lrelu(
            y, self.up_filter, self.down_filter, bias, up=self.up_factor, down=self.down_factor,
            padding=self.padding, gain=1.0 if self.is_torgb else math.sqrt(2), slope=1.0 if self.is_torgb else 0.2,
            clamp=self.conv_clamp, out=out,
        )

    def _image_weight(self, x: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
        """The modulated (and demodulated) weight [out, in, k, k] of a batch of one image."""
        weight, styles, dcoefs = self._normalised(x, styles)
        w = weight * styles.reshape(1, -1, 1, 1)
        return w * dcoefs.reshape(-1, 1, 1, 1) if dcoefs is not None else w

    def _normalised(self, x: torch.Tensor, styles: torch.Tensor):
        """(weight with the input gain, styles, demodulation coefficients [N, out] or None for ToRGB)."""
        k = self.conv_kernel
        weight = _as(self.weight, x.dtype) * _as(self.magnitude_ema, x.dtype).rsqrt()   # the input gain
        if self.is_torgb:
            styles = styles * (1 / math.sqrt(self.in_channels * k * k))
            dcoefs = None
        else:
            # Both normalisations only bound the numbers' range: demodulation cancels them.
            weight = weight * weight.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
            styles = styles * styles.square().mean(dim=1, keepdim=True).rsqrt()
            wsq = weight.square().sum(dim=[2, 3])                               # [out, in]
            dcoefs = (styles.square() @ wsq.t() + 1e-8).rsqrt()                  # [N, out]
        return weight, styles, dcoefs

    def _modulated_conv(self, x: torch.Tensor, styles: torch.Tensor, fused: bool | None = None) -> torch.Tensor:
        """Per-image weights in one grouped convolution (one image, or training), else one shared weight
        between scaling the input by the styles and the output by the demodulation (``fused=False``
        always: no shape depends on the batch)."""
        n = x.shape[0]
        k = self.conv_kernel
        weight, styles, dcoefs = self._normalised(x, styles)
        if fused is not False and (n == 1 or torch.is_grad_enabled()):
            w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)
            if dcoefs is not None:
                w = w * dcoefs.reshape(n, -1, 1, 1, 1)
            y = F.conv2d(x.reshape(1, -1, *x.shape[2:]), w.reshape(-1, self.in_channels, k, k),
                         padding=k - 1, groups=n)
            return y.reshape(n, -1, *y.shape[2:])
        y = F.conv2d(x * styles.reshape(n, -1, 1, 1), weight, padding=k - 1)
        if dcoefs is not None:
            y = y * dcoefs.reshape(n, -1, 1, 1)
        return y

    def extra_name(self) -> str:
        return f"layer {self.out_size}px/{self.out_channels}ch"

    def extra_repr(self) -> str:
        return (f"in={self.in_channels}x{self.in_size}, out={self.out_channels}x{self.out_size}, up={self.up_factor}, "
                f"down={self.down_factor}, kernel={self.conv_kernel}, radial={self.down_radial}")


class SynthesisNetwork(nn.Module):
    """ws [N, num_layers + 2, w_dim] -> image [N, C, H, W], roughly in [-1, 1]."""

    def __init__(self, config: Stylegan3Config):
        super().__init__()
        self.config = config
        self.w_dim, self.img_resolution, self.img_channels = config.w_dim, config.img_resolution, config.img_channels
        self.num_ws = config.num_ws
        self.output_scale = config.output_scale
        geometry = layer_geometry(config)
        self.geometry = geometry
        self.input = SynthesisInput(config.w_dim, **geometry["input"])
        self.layer_names = []
        for spec in geometry["layers"]:
            layer = SynthesisLayer(config.w_dim, spec, filter_size=config.filter_size, conv_clamp=config.conv_clamp,
                                   magnitude_ema_beta=config.magnitude_ema_beta)
            setattr(self, spec["name"], layer)
            self.layer_names.append(spec["name"])

    def layers(self) -> list[SynthesisLayer]:
        return [getattr(self, name) for name in self.layer_names]

    def preview_resolutions(self) -> list[int]:
        """Every layer works at the full margin'd grid: no early, smaller image to stop at."""
        return [self.img_resolution]

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", noise_generator: Any = None, fused: bool | None = None,
                max_resolution: int | None = None, update_emas: bool = False,
                view: torch.Tensor | None = None) -> torch.Tensor:
        """Render ws, seen through ``view`` (translate / rotate, :func:`view_transform`) if given.

        StyleGAN3 has no per-pixel noise and no early, smaller image: ``noise_mode``,
        ``noise_generator`` and ``max_resolution`` are accepted so that every generator is called
        alike, and change nothing. ``fused=False`` renders the whole batch with shared weights (the
        form ONNX export traces: nothing depends on the batch size)."""
        ops.assert_shape(ws, [None, self.num_ws, self.w_dim], "ws")
        ws = _as(ws, torch.float32)
        if fused is not False and ws.shape[0] > 1 and not torch.is_grad_enabled() and ws.device.type == "cpu":
            # On a CPU, one image at a time: per-image modulated weights beat a shared weight
            # (measured at 256 px), and the working set stays in the caches and in memory.
            return torch.cat([self._render(ws[i:i + 1], update_emas, view) for i in range(ws.shape[0])])
        return self._render(ws, update_emas, view, fused)

    def _render(self, ws: torch.Tensor, update_emas: bool, view: torch.Tensor | None,
                fused: bool | None = None) -> torch.Tensor:
        w = ws.unbind(dim=1)
        x = self.input(w[0], view)
        for layer, wi in zip(self.layers(), w[1:]):
            x = layer(x, wi, update_emas=update_emas, fused=fused)
        if self.output_scale != 1:
            x = x * self.output_scale
        return _as(x, torch.float32)


class Stylegan3Generator(MappedGenerator):
    """z, c -> image. ``mapping`` and ``synthesis`` can be called separately to work in W."""

    def __init__(self, config: Stylegan3Config):
        super().__init__()
        self.config = config
        self.z_dim, self.c_dim, self.w_dim = config.z_dim, config.c_dim, config.w_dim
        self.img_resolution, self.img_channels = config.img_resolution, config.img_channels
        self.synthesis = SynthesisNetwork(config)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            config.z_dim, config.c_dim, config.w_dim, self.num_ws, num_layers=config.mapping_layers,
            lr_multiplier=config.mapping_lr_multiplier, w_avg_beta=config.w_avg_beta,
        )


# --------------------------------------------------------------------------------------------
# Translate and rotate (the user's view of the Fourier input)


def view_transform(translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0) -> torch.Tensor:
    """The input's ``transform`` buffer for a view moved by ``translate`` (in the Fourier input's
    coordinates, as NVIDIA's ``gen_images.py --translate X,Y``) and turned by ``rotate`` degrees."""
    angle = math.radians(rotate)
    s, c = math.sin(angle), math.cos(angle)
    m = np.array([[c, s, translate[0]], [-s, c, translate[1]], [0.0, 0.0, 1.0]])
    return torch.as_tensor(np.linalg.inv(m), dtype=torch.float32)
