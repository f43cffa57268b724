"""A generator as ONNX: the synthesis network (ws -> images) and the mapping network (z, class,
per-layer truncation -> ws), each a graph with a dynamic batch.

The synthesis graph is traced from the networks' unfused modulated convolution (the input
scaled by the styles, one shared weight, the output scaled by the demodulation), so no batch
size is baked in; the stored noise is a constant of the graph (``noise_mode="const"``).
StyleGAN2, SWAGAN, StyleGAN3 and DCGAN export. A StyleGAN3 graph takes a second input, ``view``
(3 x 3, :func:`studio.gan.networks.stylegan3.view_transform`; the identity for the network's own
view), so translating and rotating render in ONNX Runtime too; its filters run per channel with
the images kept apart, where PyTorch folds the batch into the channels. The
mapping graph takes ``psi`` per w layer (``[num_ws]``), which is how truncation with a cutoff is
said without a branch: ``psi[i] = psi`` below the cutoff and 1 above it.

ONNX Runtime runs both (:mod:`studio.gan.onnx_backend`); the round trip is tested against the
studio's own images.
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import torch
from torch import nn

OPSET = 17
EXPORT_BATCH = 2        # traced with two images, so that every batch-dependent shape stays symbolic


class _Synthesis(nn.Module):
    """ws (and, for StyleGAN3, the view transform) -> images."""

    def __init__(self, G):
        super().__init__()
        self.G = G

    def forward(self, ws: torch.Tensor, view: torch.Tensor | None = None) -> torch.Tensor:
        return self.G.synthesis(ws, noise_mode="const", fused=False, **({} if view is None else {"view": view}))


class _Mapping(nn.Module):
    def __init__(self, G):
        super().__init__()
        self.G = G

    def forward(self, z: torch.Tensor, c: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
        mapping = self.G.mapping
        ws = mapping(z, c if self.G.c_dim else None, truncation_psi=1.0)
        avg = mapping.w_avg.reshape(1, 1, -1)
        return avg + (ws - avg) * psi.reshape(1, -1, 1)


def onnx_paths(path: str | Path) -> tuple[Path, Path]:
    """(synthesis, mapping) files of an export to ``path`` (``NAME.onnx`` and ``NAME.mapping.onnx``)."""
    out = Path(path)
    return out, out.with_name(out.stem + ".mapping.onnx")


def export_onnx(G, path: str | Path, *, fingerprint: str = "", name: str = "",
                mapping: bool = True) -> tuple[Path, Path | None]:
    """Write the synthesis graph of ``G`` (and with ``mapping`` its mapping graph); returns their paths.
    Each file's metadata records the network's fingerprint, name and shapes. ``G`` itself is left as
    it was (a copy is traced on the CPU)."""
    synthesis_path, mapping_path = onnx_paths(path)
    synthesis_path.parent.mkdir(parents=True, exist_ok=True)
    viewed = getattr(G.config, "kind", "stylegan2") == "stylegan3"
    G = copy.deepcopy(G).eval().requires_grad_(False).to("cpu", torch.float32)
    ws = G.mapping(torch.randn(EXPORT_BATCH, G.z_dim), _labels(G, EXPORT_BATCH))
    meta = {"studio_fingerprint": fingerprint, "studio_name": name,
            "studio_shapes": json.dumps({"z_dim": G.z_dim, "w_dim": G.w_dim, "c_dim": G.c_dim, "num_ws": G.num_ws,
                                         "img_resolution": G.img_resolution, "img_channels": G.img_channels,
                                         "view": viewed})}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")                  # the tracer's notes on Python-side shape checks
        inputs = ((ws, torch.eye(3)), ["ws", "view"]) if viewed else ((ws,), ["ws"])
        _export(_Synthesis(G), inputs[0], synthesis_path, inputs[1], ["images"],
                {"ws": {0: "batch"}, "images": {0: "batch"}})
        if mapping:
            z = torch.randn(EXPORT_BATCH, G.z_dim)
            _export(_Mapping(G), (z, _labels(G, EXPORT_BATCH, zeros=True), torch.ones(G.num_ws)), mapping_path,
                    ["z", "c", "psi"], ["ws"], {"z": {0: "batch"}, "c": {0: "batch"}, "ws": {0: "batch"}})
    written = [synthesis_path] + ([mapping_path] if mapping else [])
    for file in written:
        _stamp(file, meta)
    return synthesis_path, mapping_path if mapping else None


def _labels(G, n: int, zeros: bool = False) -> torch.Tensor:
    """One-hot class labels (class 0), or a [n, 1] placeholder for an unconditional network."""
    if not G.c_dim:
        return torch.zeros(n, 1)
    c = torch.zeros(n, G.c_dim)
    if not zeros:
        c[:, 0] = 1
    return c


def _export(module, args, path: Path, inputs, outputs, dynamic) -> None:
    # no constant folding: it would store the transposed up-sampling kernels a second time (166 MB
    # instead of 92 for paper256); ONNX Runtime folds what it needs when the session starts
    tmp = path.with_name(path.name + ".partial")
    torch.onnx.export(module, args, str(tmp), input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
                      opset_version=OPSET, dynamo=False, do_constant_folding=False)
    tmp.replace(path)


def _stamp(path: Path, meta: dict) -> None:
    """Record ``meta`` in the file's metadata (skipped where the onnx package is not installed, as in
    the desktop bundle: the graph works without it)."""
    try:
        import onnx
    except ImportError:
        return

    model = onnx.load(str(path))
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    tmp = path.with_name(path.name + ".partial")
    onnx.save(model, str(tmp))
    tmp.replace(path)
