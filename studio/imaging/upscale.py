"""Super-resolution with the artist's own ONNX model (Real-ESRGAN and the like), through ONNX Runtime.

The model file is the user's choice and is only ever run by ONNX Runtime (no Python in it is
executed). Loaded sessions are cached per file (path, modification time, size).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

import numpy as np

from studio.core.errors import StudioError


class OnnxUpscaler:
    """A user's super-resolution ONNX model, run with onnxruntime (CUDA when it works, else CPU).

    The model must take one float (or float16) tensor ``[1, 3, h, w]``, RGB in 0..1, and return
    ``[1, 3, s*h, s*w]`` for an integer scale s (the Real-ESRGAN / ESRGAN export convention).
    The scale is read from the model's static shapes, else from a probe run. Images are
    processed in overlapping tiles (``tile`` px, ``overlap`` px of context on each side,
    discarded afterwards) so memory stays bounded; models with a fixed input size get tiles of
    exactly that size (edge tiles padded by replicating the border).

    ``provider`` is the execution provider that really runs the model, read back from the
    session: onnxruntime silently falls back to the CPU when CUDA cannot start.
    """

    def __init__(self, path: str | Path, *, tile: int = 256, overlap: int = 16,
                 providers: list[str] | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise StudioError("ONNX upscaling needs onnxruntime: pip install gan-art-studio[onnx] "
                              "(or gan-art-studio[gpu] for onnxruntime-gpu)") from exc
        self.path = Path(path)
        if not self.path.is_file():
            raise StudioError(f"ONNX upscaler model not found: {self.path}")
        self.notes: list[str] = []
        available = ort.get_available_providers()
        wanted = providers or [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        if not wanted:
            wanted = list(available)
        try:
            self.session = ort.InferenceSession(str(self.path), providers=wanted)
        except Exception as exc:   # a broken GPU provider can raise instead of falling back
            if wanted == ["CPUExecutionProvider"]:
                raise StudioError(f"cannot load ONNX upscaler {self.path.name}: {exc}") from exc
            try:
                self.session = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
            except Exception as exc2:
                raise StudioError(f"cannot load ONNX upscaler {self.path.name}: {exc2}") from exc2
            self.notes.append(f"{wanted[0]} failed ({str(exc).splitlines()[0][:120]}); running on the CPU")
        self.provider = self.session.get_providers()[0]
        if wanted[0] != self.provider and not self.notes:
            self.notes.append(f"{wanted[0]} was requested but onnxruntime fell back to {self.provider}")
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or not outputs:
            raise StudioError(f"{self.path.name} is not a single-input image upscaler ({len(inputs)} inputs)")
        self._input = inputs[0]
        shape = list(self._input.shape)
        if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3):
            raise StudioError(f"{self.path.name} expects input shape {shape}; an upscaler must take [1, 3, H, W] RGB")
        types = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
        if self._input.type not in types:
            raise StudioError(f"{self.path.name} takes {self._input.type}; an upscaler must take float or float16")
        self._dtype = types[self._input.type]
        self.fixed: tuple[int, int] | None = None
        if isinstance(shape[2], int) and isinstance(shape[3], int) and shape[2] > 0 and shape[3] > 0:
            self.fixed = (shape[2], shape[3])
        self.tile = max(8, int(tile))
        self.overlap = max(0, int(overlap))
        self.scale = self._infer_scale(outputs[0].shape)

    @property
    def name(self) -> str:
        return self.path.name

    def describe(self) -> str:
        """``'onnx:model.onnx (CUDAExecutionProvider)'``: what the export panel shows."""
        return f"onnx:{self.name} ({self.provider})"

    def _run(self, batch: np.ndarray) -> np.ndarray:
        result = self.session.run(None, {self._input.name: batch.astype(self._dtype, copy=False)})[0]
        return np.asarray(result, dtype=np.float32)

    def _infer_scale(self, out_shape: list[Any]) -> int:
        if self.fixed and len(out_shape) == 4 and isinstance(out_shape[2], int) and isinstance(out_shape[3], int) \
                and out_shape[2] > 0:
            sh, sw = out_shape[2] / self.fixed[0], out_shape[3] / self.fixed[1]
        else:
            ph, pw = self.fixed or (32, 32)
            try:
                probe = self._run(np.zeros((1, 3, ph, pw), np.float32))
            except Exception as exc:
                raise StudioError(f"{self.name}: probe run on a {pw}x{ph} image failed: {exc}") from exc
            if probe.ndim != 4 or probe.shape[1] != 3:
                raise StudioError(f"{self.name} returned shape {probe.shape}; an upscaler must return [1, 3, H, W]")
            sh, sw = probe.shape[2] / ph, probe.shape[3] / pw
        if sh != sw or sh != int(sh) or sh < 1:
            raise StudioError(f"{self.name} scales by {sw:g} x {sh:g}; only equal whole-number scales are supported")
        return int(sh)

    def upscale(self, image: np.ndarray, tick: Callable[[float], None] | None = None, *,
                out: np.ndarray | None = None) -> np.ndarray:
        """RGB [h, w, 3] (uint8, or float 0..255) -> [s*h, s*w, 3] in 0..255.

        Written tile by tile into ``out`` when given (uint8: rounded; float32: as is; it may
        be a view, e.g. the colour channels of an RGBA array), else into a new float32 array.
        """
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"the ONNX upscaler takes RGB [H, W, 3], got shape {image.shape}")
        h, w = image.shape[:2]
        s = self.scale
        if out is None:
            out = np.empty((h * s, w * s, 3), np.float32)
        if out.shape != (h * s, w * s, 3):
            raise ValueError(f"output array has shape {out.shape}, expected {(h * s, w * s, 3)}")
        th, tw = self.fixed or (self.tile, self.tile)
        ov = min(self.overlap, max(0, min(th, tw) // 4))
        core_h, core_w = th - 2 * ov, tw - 2 * ov
        if not self.fixed and h <= th and w <= tw:
            core_h, core_w, ov = h, w, 0   # one tile, no context needed
        ys, xs = list(range(0, h, core_h)), list(range(0, w, core_w))
        done, total = 0, len(ys) * len(xs)
        for y in ys:
            for x in xs:
                y1, x1 = min(h, y + core_h), min(w, x + core_w)
                iy0, ix0 = max(0, y - ov), max(0, x - ov)
                iy1, ix1 = min(h, y1 + ov), min(w, x1 + ov)
                patch = np.asarray(image[iy0:iy1, ix0:ix1], dtype=np.float32) / 255.0
                if self.fixed:
                    patch = np.pad(patch, ((0, th - patch.shape[0]), (0, tw - patch.shape[1]), (0, 0)), mode="edge")
                result = self._run(np.ascontiguousarray(patch.transpose(2, 0, 1))[None])[0]
                oy, ox = (y - iy0) * s, (x - ix0) * s
                tile = result[:, oy:oy + (y1 - y) * s, ox:ox + (x1 - x) * s].transpose(1, 2, 0)
                np.clip(tile, 0.0, 1.0, out=tile)
                tile *= 255.0
                if out.dtype == np.uint8:
                    np.rint(tile, out=tile)
                out[y * s:y1 * s, x * s:x1 * s] = tile
                done += 1
                if tick:
                    tick(done / total)
        return out


@functools.lru_cache(maxsize=2)
def _cached_upscaler(path: str, mtime_ns: int, size: int) -> OnnxUpscaler:
    # mtime_ns and size are only cache keys: a replaced model file loads afresh
    return OnnxUpscaler(path)


def load_upscaler(path: str | Path) -> OnnxUpscaler:
    """An ``OnnxUpscaler`` for ``path``, reused while the file is unchanged (loading a session
    takes a while, and the export panel may run the same model many times)."""
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except OSError:
        raise StudioError(f"ONNX upscaler model not found: {p}") from None
    return _cached_upscaler(str(p.resolve()), st.st_mtime_ns, st.st_size)
