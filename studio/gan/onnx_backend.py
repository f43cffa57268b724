"""Rendering with ONNX Runtime: a network's synthesis graph (see :mod:`studio.gan.formats.onnx_export`)
run by the CUDA execution provider where ``onnxruntime-gpu`` finds a GPU, by the CPU one elsewhere.

This is how a packaged studio can use a GPU without shipping CUDA PyTorch. The graph is exported
once per network into the models cache (named by its fingerprint) and reused. It draws what the
graph holds: stored noise, the trained square, no view; anything else (random or no noise, a tile,
a canvas, a StyleGAN3 view, regions) renders with PyTorch, and :meth:`OnnxSynthesis.handles` says
which.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from studio.core.errors import StudioError
from studio.gan.render_settings import RenderSettings

BACKENDS = ("torch", "onnx", "auto")
#: what ``auto`` picks on each kind of machine, from ``benchmarks/backends.py``: on a CPU PyTorch's
#: oneDNN path was as fast at batch 1 and faster at batch 8; a GPU was not measured yet
AUTO_CHOICE = {"cpu": "torch", "cuda": "onnx"}


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def providers_for(device: torch.device) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    wanted = (["CUDAExecutionProvider"] if device.type == "cuda" else []) + ["CPUExecutionProvider"]
    return [p for p in wanted if p in available]


def cached_graph(network) -> Path:
    """The network's synthesis graph in the models cache, exported the first time it is asked for."""
    from studio.core.paths import models_cache_dir
    from studio.gan.formats.onnx_export import export_onnx

    folder = models_cache_dir() / "onnx" / network.fingerprint[:32]
    path = folder / "synthesis.onnx"
    if not path.is_file():
        export_onnx(network.G, path, fingerprint=network.fingerprint, name=network.name)
    return path


class OnnxSynthesis:
    """A synthesis graph in an ONNX Runtime session: ws [N, num_ws, w_dim] -> float images [N, C, H, W]."""

    def __init__(self, path: str | Path, device: torch.device, threads: int | None = None):
        if not onnxruntime_available():
            raise StudioError("the ONNX backend needs onnxruntime (pip install onnxruntime, or onnxruntime-gpu)")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # no spinning between runs: idle ONNX Runtime threads would take the cores from PyTorch (CLIP,
        # the mapping, the window) -- measured: PyTorch's renders 1.5x slower beside a spinning session
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=providers_for(device))
        self.provider = self.session.get_providers()[0]


    @staticmethod
    def handles(settings: RenderSettings) -> bool:
        """Whether the graph draws what ``settings`` ask for (otherwise PyTorch renders)."""
        return (settings.noise_mode == "const" and not settings.tile and settings.canvas in (None, (4, 4))
                and not settings.moves_view)

    def __call__(self, ws: torch.Tensor) -> torch.Tensor:
        out = self.session.run(None, {"ws": np.ascontiguousarray(ws.detach().cpu().numpy(), dtype=np.float32)})[0]
        return torch.from_numpy(out)
