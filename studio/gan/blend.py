"""Blending two networks layer by layer (Justin Pinkney's network blending, per w layer).

Two generators of one architecture, resolution and latent size are mixed tensor by tensor:
``(1 - a) * A + a * B``, where ``a`` is the weight of the w layer the tensor belongs to. A layer's
weight comes from a few given points (``{w layer: weight}``), interpolated linearly between them
and held beyond them, so ``{0: 0, 4: 0.5, 8: 1}`` keeps A's coarse layers, mixes the middle ones
and takes B's fine ones; a weight of 0 or 1 everywhere reproduces A or B exactly.

Which w layer a tensor belongs to: a modulated layer's tensors (weights, bias, affine, noise)
follow the w its affine reads (:func:`studio.gan.directions.style_affines`); StyleGAN2's 4x4
constant and StyleGAN3's Fourier input go with layer 0; the mapping network (and ``w_avg``) with
layer 0 too, since it shapes every w: the coarse donor's latent space is the blend's.
"""

from __future__ import annotations

import copy
from typing import Mapping, Sequence

import torch

MAX_WEIGHT_POINTS = 64


class BlendError(ValueError):
    """Two networks cannot be blended; the message names the difference."""


def parse_weights(text: str) -> dict[int, float]:
    """``'0:0,4:0.5,8:1'`` -> ``{0: 0.0, 4: 0.5, 8: 1.0}`` (w layer: weight of the second network)."""
    points: dict[int, float] = {}
    for part in text.split(","):
        layer, sep, weight = part.strip().partition(":")
        try:
            if not sep:
                raise ValueError
            index, value = int(layer), float(weight)
        except ValueError:
            raise BlendError(f"weights are LAYER:WEIGHT pairs, e.g. 0:0,4:0.5,8:1; got {part.strip()!r}") from None
        if not 0 <= value <= 1:
            raise BlendError(f"the weight of layer {index} must be from 0 (the first network) to 1 (the second), "
                             f"got {weight.strip()}")
        if index < 0:
            raise BlendError(f"layer {index} is not a w layer")
        points[index] = value
    if not points or len(points) > MAX_WEIGHT_POINTS:
        raise BlendError(f"give 1 to {MAX_WEIGHT_POINTS} LAYER:WEIGHT pairs")
    return points


def layer_weights(points: Mapping[int, float], num_ws: int) -> list[float]:
    """One weight per w layer: linear between the given points, held beyond the first and last."""
    keys = sorted(points)
    out = []
    for i in range(num_ws):
        if i <= keys[0]:
            out.append(float(points[keys[0]]))
        elif i >= keys[-1]:
            out.append(float(points[keys[-1]]))
        else:
            hi = next(k for k in keys if k >= i)
            lo = max(k for k in keys if k <= i)
            t = 0.0 if hi == lo else (i - lo) / (hi - lo)
            out.append(float(points[lo]) * (1 - t) + float(points[hi]) * t)
    return out


def tensor_layers(G: torch.nn.Module) -> dict[str, int]:
    """The w layer of every tensor of ``G``'s state dict (module prefix of each style affine's owner)."""
    from studio.gan.directions import style_affines

    owners: dict[str, int] = {}
    named = {id(m): name for name, m in G.named_modules()}
    for index, affine in style_affines(G):
        owner = named[id(affine)].rpartition(".")[0]          # 'synthesis.b8.conv0', 'synthesis.L3_52_64'
        owners[owner] = index
    layers = {}
    for name in G.state_dict():
        best = None
        for owner, index in owners.items():
            if name.startswith(owner + ".") and (best is None or len(owner) > len(best[0])):
                best = (owner, index)
        layers[name] = best[1] if best is not None else 0
    return layers


def check_compatible(A: torch.nn.Module, B: torch.nn.Module, names: Sequence[str] = ("A", "B")) -> None:
    """Refuse two networks that cannot be blended, naming the first difference."""
    a_name, b_name = names
    ka, kb = getattr(A.config, "kind", "stylegan2"), getattr(B.config, "kind", "stylegan2")
    if ka != kb:
        raise BlendError(f"{a_name} is a {ka} network and {b_name} a {kb} one: only networks of one architecture blend")
    if ka == "dcgan":
        raise BlendError("DCGAN networks have no style layers to blend by")
    for attr, what in (("img_resolution", "resolution"), ("w_dim", "w size"), ("z_dim", "z size"),
                       ("c_dim", "number of classes"), ("num_ws", "number of w layers"),
                       ("img_channels", "image channels")):
        va, vb = getattr(A, attr), getattr(B, attr)
        if va != vb:
            raise BlendError(f"{a_name} and {b_name} differ in {what}: {va} and {vb}")
    sa, sb = A.state_dict(), B.state_dict()
    if sa.keys() != sb.keys():
        only = sorted(set(sa) ^ set(sb))[0]
        raise BlendError(f"{a_name} and {b_name} are built differently: only one of them has {only}")
    for name in sa:
        if sa[name].shape != sb[name].shape:
            raise BlendError(f"{a_name} and {b_name} are built differently: {name} is {list(sa[name].shape)} "
                             f"in one and {list(sb[name].shape)} in the other")


def blend(A: torch.nn.Module, B: torch.nn.Module, points: Mapping[int, float],
          names: Sequence[str] = ("A", "B")) -> torch.nn.Module:
    """A new generator: A's architecture with every tensor ``(1 - a) * A + a * B`` by its w layer."""
    check_compatible(A, B, names)
    bad = [k for k in points if k >= A.num_ws]
    if bad:
        raise BlendError(f"layer {bad[0]} is outside 0-{A.num_ws - 1} for these networks")
    weights = layer_weights(points, A.num_ws)
    layers = tensor_layers(A)
    sa, sb = A.state_dict(), B.state_dict()
    out = {}
    for name, ta in sa.items():
        tb = sb[name]
        a = weights[layers[name]]
        if not ta.is_floating_point() or a == 0:
            out[name] = ta.clone()
        elif a == 1:
            out[name] = tb.clone()
        else:
            out[name] = torch.lerp(ta.float(), tb.float(), a).to(ta.dtype)
    G = copy.deepcopy(A)
    G.load_state_dict(out)
    return G.eval().requires_grad_(False)


__all__ = ["blend", "parse_weights", "layer_weights", "tensor_layers", "check_compatible", "BlendError"]
