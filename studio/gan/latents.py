"""Latent-space helpers: seed syntax, z from seed, class labels, truncation, interpolation, mixing.

Everything here is pure numpy / torch arithmetic with no network involved, so the CLI, the GUI
and the tests share exactly the same conventions. The conventions follow NVIDIA's reference
StyleGAN scripts (``generate.py``, ``style_mixing.py``) so that a seed gives the same image in
the studio as in the reference code.
"""

from __future__ import annotations

from typing import Sequence, TypeVar

import numpy as np
import torch

from studio.gan.seeds import (  # noqa: F401  (re-exported: latents is the one place to look)
    MAX_LIST_LENGTH,
    MAX_SEED,
    one_hot,
    parse_indices,
    parse_seeds,
    z_from_seed,
    zs_from_seeds,
)

__all__ = [
    "MAX_SEED",
    "MAX_LIST_LENGTH",
    "parse_seeds",
    "parse_indices",
    "z_from_seed",
    "zs_from_seeds",
    "one_hot",
    "truncate",
    "lerp",
    "slerp",
    "mix_styles",
]

# Cosine above which two vectors count as parallel and slerp falls back to lerp.
_PARALLEL_COS = 0.9995

Array = TypeVar("Array", torch.Tensor, np.ndarray)


# ---------------------------------------------------------------------------------------------
# Truncation
# ---------------------------------------------------------------------------------------------


def truncate(
    ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None = None
) -> torch.Tensor:
    """The truncation trick: pull ws toward the average w by ``psi``.

    ``ws`` has shape ``[N, num_ws, w_dim]`` and ``w_avg`` shape ``[w_dim]``. Layers
    ``0 .. cutoff - 1`` (all layers when ``cutoff`` is None) become
    ``w_avg + psi * (ws - w_avg)``; the rest are copied unchanged. ``psi = 1`` is the identity,
    ``psi = 0`` gives the average image. Returns a new tensor; ``ws`` is not modified.
    """
    if ws.dim() != 3:
        raise ValueError(f"ws must have shape [N, num_ws, w_dim], got {list(ws.shape)}")
    if cutoff is not None and cutoff < 0:
        raise ValueError(f"truncation cutoff must not be negative, got {cutoff}")
    w_avg = w_avg.to(device=ws.device, dtype=ws.dtype)
    out = ws.clone()
    head = ws[:, :cutoff]
    out[:, :cutoff] = w_avg + psi * (head - w_avg)
    return out


# ---------------------------------------------------------------------------------------------
# Interpolation
# ---------------------------------------------------------------------------------------------


def _as_tensor(x: torch.Tensor | np.ndarray | Sequence[float]) -> torch.Tensor:
    """Return ``x`` as a tensor (numpy input is copied, so read-only arrays are fine)."""
    return x if isinstance(x, torch.Tensor) else torch.tensor(np.asarray(x))


def _to_torch(
    a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Convert a pair of arrays to broadcast float tensors on one device.

    Returns the two tensors and whether neither input was a tensor (then the caller hands
    numpy back). Integer inputs become float32; the device is that of the tensor input.
    """
    as_numpy = not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor)
    ta, tb = _as_tensor(a), _as_tensor(b)
    device = a.device if isinstance(a, torch.Tensor) else tb.device
    dtype = torch.promote_types(ta.dtype, tb.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float32
    ta, tb = ta.to(dtype).to(device), tb.to(dtype).to(device)
    try:
        ta, tb = torch.broadcast_tensors(ta, tb)
    except RuntimeError:
        raise ValueError(
            f"cannot interpolate between shapes {list(ta.shape)} and {list(tb.shape)}"
        ) from None
    return ta, tb, as_numpy


def _steps(
    t: float | Sequence[float] | np.ndarray | torch.Tensor, like: torch.Tensor
) -> torch.Tensor:
    """Return ``t`` as a tensor that broadcasts against ``like``.

    A number gives a 0-d tensor; a 1-D sequence of T steps gives shape ``[T, 1, ..., 1]`` so
    the interpolated results stack along a new leading axis.
    """
    if isinstance(t, torch.Tensor):
        steps = t.detach()
    else:
        steps = torch.tensor(np.asarray(t, dtype=np.float64))
    steps = steps.to(like.dtype).to(like.device)  # cast first: some devices lack float64
    if steps.dim() == 0:
        return steps
    if steps.dim() != 1:
        raise ValueError(f"t must be a number or a 1-D list of steps, got shape {list(steps.shape)}")
    return steps.reshape(-1, *([1] * like.dim()))


def _finish(result: torch.Tensor, as_numpy: bool) -> torch.Tensor | np.ndarray:
    """Return ``result`` as numpy when the inputs were numpy."""
    return result.cpu().numpy() if as_numpy else result


def lerp(a: Array, b: Array, t: float | Sequence[float] | np.ndarray | torch.Tensor) -> Array:
    """Linear interpolation ``a + t * (b - a)`` for tensors or numpy arrays.

    ``a`` and ``b`` must have the same shape or broadcast to one (e.g. one vector against a
    batch). ``t`` may be a number (the result has that shape, S) or a 1-D sequence of T steps
    (the result has shape ``[T, *S]``). Numpy in gives numpy out; otherwise a tensor.
    """
    ta, tb, as_numpy = _to_torch(a, b)
    steps = _steps(t, ta)
    return _finish(ta + steps * (tb - ta), as_numpy)


def slerp(a: Array, b: Array, t: float | Sequence[float] | np.ndarray | torch.Tensor) -> Array:
    """Spherical interpolation between vectors along the last dimension (batched over the rest).

    Follows the great circle from ``a`` (``t = 0``) to ``b`` (``t = 1``); for unit vectors every
    result is a unit vector. Where two vectors are parallel or anti-parallel (or zero) the
    circle is undefined and plain :func:`lerp` is used for that pair. ``t`` and the return type
    behave as in :func:`lerp`.
    """
    ta, tb, as_numpy = _to_torch(a, b)
    steps = _steps(t, ta)
    norms = ta.norm(dim=-1, keepdim=True) * tb.norm(dim=-1, keepdim=True)
    cos = (ta * tb).sum(dim=-1, keepdim=True) / norms.clamp_min(torch.finfo(ta.dtype).tiny)
    degenerate = (cos.abs() > _PARALLEL_COS) | (norms == 0)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    sin_omega = torch.where(degenerate, torch.ones_like(omega), torch.sin(omega))
    spherical = (torch.sin((1 - steps) * omega) * ta + torch.sin(steps * omega) * tb) / sin_omega
    linear = ta + steps * (tb - ta)
    return _finish(torch.where(degenerate, linear, spherical), as_numpy)


# ---------------------------------------------------------------------------------------------
# Style mixing
# ---------------------------------------------------------------------------------------------


def mix_styles(row_ws: Array, col_ws: Array, layers: Sequence[int]) -> Array:
    """The style-mixing grid of the reference ``style_mixing.py``.

    ``row_ws`` is ``[R, L, D]`` and ``col_ws`` is ``[C, L, D]``. Returns ``[R * C, L, D]`` in
    row-major order: cell ``(r, c)`` (at index ``r * C + c``) is row ``r``'s ws with the given
    layer indices replaced by column ``c``'s: rows give the form, columns give the
    styles on those layers. Numpy in gives numpy out.
    """
    rows, cols, as_numpy = _to_torch_grid(row_ws, col_ws)
    num_layers = rows.shape[1]
    bad = [i for i in layers if not 0 <= i < num_layers]
    if bad:
        raise ValueError(f"layer {bad[0]} is out of range: valid layers are 0-{num_layers - 1}")
    r, c = rows.shape[0], cols.shape[0]
    grid = rows[:, None].expand(r, c, *rows.shape[1:]).clone()
    index = torch.as_tensor(list(layers), dtype=torch.long, device=rows.device)
    grid[:, :, index] = cols[None, :, index].expand(r, c, len(index), rows.shape[2])
    return _finish(grid.reshape(r * c, *rows.shape[1:]), as_numpy)


def _to_torch_grid(row_ws: Array, col_ws: Array) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Check the shapes of the two ws stacks for :func:`mix_styles` and convert to tensors."""
    row_shape, col_shape = tuple(row_ws.shape), tuple(col_ws.shape)
    if len(row_shape) != 3 or len(col_shape) != 3 or row_shape[1:] != col_shape[1:]:
        raise ValueError(
            f"row and column ws must be [R, L, D] and [C, L, D] with the same L and D, "
            f"got {list(row_shape)} and {list(col_shape)}"
        )
    as_numpy = not isinstance(row_ws, torch.Tensor) and not isinstance(col_ws, torch.Tensor)
    rows, cols = _as_tensor(row_ws), _as_tensor(col_ws)
    cols = cols.to(rows.dtype).to(rows.device)
    return rows, cols, as_numpy
