"""Rendering with ONNX Runtime: a network's synthesis graph (see :mod:`studio.gan.formats.onnx_export`)
run by the CUDA execution provider where ``onnxruntime-gpu`` finds a GPU, by the CPU one elsewhere.

This is how a packaged studio can use a GPU without shipping CUDA PyTorch. The graph is exported
once per network into the models cache (named by its fingerprint) and reused. It draws what the
graph holds: stored noise, the trained square, and a StyleGAN3's view (an input of its graph);
anything else (random or no noise, a tile, a canvas, regions) renders with PyTorch, and
:meth:`OnnxSynthesis.handles` says which.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from studio.core.errors import StudioError
from studio.gan.render_settings import RenderSettings

BACKENDS = ("torch", "onnx", "auto")


#: StyleGAN3 on a CPU renders faster through ONNX Runtime (benchmarks/backends.py --network stylegan3-t:
#: 1.63x PyTorch at 256 px on 2 threads; stylegan3_cpu.py --onnx: 2.8x at 1024 px), but its graph filters
#: a whole layer at once where PyTorch works through it in cache-sized chunks: one 1024 px -T image
#: took 6.5 GB against 1.3 GB, and exporting the graph peaked at 9.1 GB. ``auto`` takes it up to here.
AUTO_STYLEGAN3_MAX_PX = 512
#: Exporting a StyleGAN3-T of channel base 32768 at 1024 px peaked at this many bytes (it scales with
#: the pixels and the channels); a machine with less memory free renders it with PyTorch.
STYLEGAN3_EXPORT_BYTES_1024 = 9.2e9


def auto_choice(device: torch.device, G=None) -> str:
    """What ``auto`` renders ``G`` with: ONNX Runtime where it has a GPU (its CUDA provider) and PyTorch
    has none (a CPU-only bundle with onnxruntime-gpu beside it), and for a StyleGAN3 of up to
    :data:`AUTO_STYLEGAN3_MAX_PX` on a CPU; PyTorch everywhere else. For StyleGAN2 on a CPU
    ``benchmarks/backends.py`` measured PyTorch's path faster (0.91x for ONNX Runtime at batch 1,
    0.71x at batch 8); on a GPU the two have not been compared yet, so PyTorch's CUDA stays."""
    if device.type != "cpu":
        return "torch"
    if "CUDAExecutionProvider" in available_providers():
        return "onnx"
    config = getattr(G, "config", None)
    if (getattr(config, "kind", "") == "stylegan3" and onnxruntime_available()
            and G.img_resolution <= AUTO_STYLEGAN3_MAX_PX):
        return "onnx"
    return "torch"


def check_memory(G) -> None:
    """Refuse, in one sentence, a StyleGAN3 graph this machine has not the memory to export and run."""
    from studio.core.memory import available_bytes, human

    config = getattr(G, "config", None)
    if getattr(config, "kind", "") != "stylegan3":
        return
    need = STYLEGAN3_EXPORT_BYTES_1024 * (G.img_resolution / 1024) ** 2 * (config.channel_base / 32768)
    free = available_bytes()
    if free is not None and free < need:
        raise StudioError(f"this StyleGAN3 through ONNX Runtime needs about {human(need)} of memory (its graph filters "
                          f"whole layers at once) and {human(free)} is free")


def available_providers() -> list[str]:
    if not onnxruntime_available():
        return []
    import onnxruntime as ort

    return list(ort.get_available_providers())


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def providers_for() -> list[str]:
    """The CUDA provider whenever onnxruntime-gpu finds a GPU (whatever PyTorch runs on), else the CPU."""
    available = available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def cached_graph(network) -> Path:
    """The network's synthesis graph in the models cache, exported the first time it is asked for."""
    from studio.core.paths import models_cache_dir
    from studio.gan.formats.onnx_export import export_onnx

    folder = models_cache_dir() / "onnx" / network.fingerprint[:32]
    path = folder / "synthesis.onnx"
    if not path.is_file():
        export_onnx(network.G, path, fingerprint=network.fingerprint, name=network.name, mapping=False)
    return path


class OnnxSynthesis:
    """A synthesis graph in an ONNX Runtime session: ws [N, num_ws, w_dim] -> float images [N, C, H, W]."""

    def __init__(self, path: str | Path, threads: int | None = None):
        if not onnxruntime_available():
            raise StudioError("the ONNX backend needs onnxruntime (pip install onnxruntime, or onnxruntime-gpu)")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # no spinning between runs: idle ONNX Runtime threads would take the cores from PyTorch (CLIP,
        # the mapping, the window) -- measured: PyTorch's renders 1.5x slower beside a spinning session
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=providers_for())
        self.provider = self.session.get_providers()[0]
        self.takes_view = any(i.name == "view" for i in self.session.get_inputs())

    def handles(self, settings: RenderSettings) -> bool:
        """Whether the graph draws what ``settings`` ask for (otherwise PyTorch renders)."""
        return (settings.noise_mode == "const" and not settings.tile and settings.canvas in (None, (4, 4))
                and (self.takes_view or not settings.moves_view))

    def __call__(self, ws: torch.Tensor, view: torch.Tensor | None = None) -> torch.Tensor:
        """Images of ``ws``, seen through ``view`` (3 x 3; None: the network's own) where the graph takes one.

        A StyleGAN3 graph on the CPU runs one image at a time: it filters whole layers at once, so its
        memory grows with the batch, and per image it is as fast at batch 1 as at 4 (measured)."""
        ws = np.ascontiguousarray(ws.detach().cpu().numpy(), dtype=np.float32)
        feed = {}
        if self.takes_view:
            feed["view"] = np.eye(3, dtype=np.float32) if view is None else view.detach().cpu().numpy().astype(np.float32)
        step = 1 if self.takes_view and self.provider == "CPUExecutionProvider" else len(ws)
        out = [self.session.run(None, {**feed, "ws": ws[i:i + step]})[0] for i in range(0, len(ws), max(step, 1))]
        return torch.from_numpy(np.concatenate(out) if len(out) > 1 else out[0])
