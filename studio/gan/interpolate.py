"""Interpolation: a path through latent space between keyframes, rendered frame by frame.

The pieces, in the order a caller uses them:

* :class:`Keyframe` - one stop on the path (a seed, a z or a w, plus an optional label).
* :func:`frame_schedule` - where each output frame lies between the keyframes.
* :func:`interpolation_ws` - the ws ``[F, num_ws, w_dim]`` of every frame, interpolated
  linearly in W or spherically in Z.
* :func:`render_frames` - streams the uint8 frames batch by batch (progress, cancellation).
* :func:`studio.imaging.video.write_video` - writes the frames as MP4, GIF or PNGs.

How frames are spread over the path
-----------------------------------
With ``K`` keyframes there are ``S = K - 1`` segments, or ``S = K`` with ``loop=True`` (the
last one runs from the last keyframe back to the first). The path is cut into *steps*: ``F - 1``
steps for ``F`` frames without looping (the frames include both ends), ``F`` steps with looping
(the first keyframe is not repeated at the end, so the animation wraps seamlessly). The steps are
shared between the segments as evenly as whole numbers allow, the earlier segments taking one
extra step when they do not divide evenly. A segment with ``n`` steps contributes the frames
``t = 0, 1/n, ..., (n-1)/n`` of the way from its keyframe to the next one, so **every keyframe is
a frame**, exactly (not an interpolated approximation); without looping the final frame is the
last keyframe. Each segment needs at least one step, so ``F`` must be at least ``K``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Literal, Sequence

import numpy as np
import torch

from studio.core.errors import StudioError
from studio.gan import latents
from studio.gan.recipe import Latent
from studio.gan.render_settings import RenderSettings

if TYPE_CHECKING:
    from studio.gan.render import Renderer

__all__ = [
    "EASINGS",
    "Keyframe",
    "RenderCancelled",
    "Space",
    "frame_count",
    "frame_schedule",
    "interpolation_ws",
    "parse_keyframe_seeds",
    "render_frames",
]

Space = Literal["w", "z"]

#: The longest path: over an hour at 30 fps (a typo must not ask for a billion frames).
MAX_FRAMES = 120_000

#: How frames are spread within each segment: evenly, or slowing into and out of every keyframe
#: (smoothstep, ``3t² - 2t³``), which lets each keyframe rest on screen a moment.
EASINGS = ("linear", "ease")
ProgressFn = Callable[[int, int], None]   # (done, total)
CancelFn = Callable[[], bool]


# Mapping network batch when interpolating in Z (bounds the temporary memory of long paths).
_MAPPING_BATCH = 1024


class RenderCancelled(StudioError):
    """Raised by :func:`render_frames` when ``should_cancel`` says stop.

    It is an exception rather than a quiet end of the stream so that a writer consuming the
    frames aborts too and removes its partial output instead of saving a truncated video.
    """

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)


# ---------------------------------------------------------------------------------------------
# Keyframes and the schedule
# ---------------------------------------------------------------------------------------------


@dataclass
class Keyframe:
    """One stop on an interpolation path: a latent (seed, z or w) and an optional label."""

    latent: Latent
    label: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.latent, Latent):
            raise ValueError(f"a keyframe needs a Latent, got {type(self.latent).__name__}")
        if self.latent.is_empty:
            raise ValueError("a keyframe needs a seed, a z or a w")

    @classmethod
    def from_seed(cls, seed: int, label: str | None = None) -> Keyframe:
        """The keyframe for ``seed`` (labelled "seed N" unless a label is given)."""
        return cls(Latent(seed=seed), f"seed {seed}" if label is None else label)

    @classmethod
    def from_z(cls, z: np.ndarray, label: str | None = None) -> Keyframe:
        """A keyframe at an explicit z vector."""
        return cls(Latent(z=z), label)

    @classmethod
    def from_w(cls, w: np.ndarray, label: str | None = None) -> Keyframe:
        """A keyframe at an explicit w (one ``[w_dim]`` vector or all layers ``[num_ws, w_dim]``).

        W keyframes can only be interpolated in W: there is no z that maps to them.
        """
        return cls(Latent(w=w), label)


def parse_keyframe_seeds(text: str) -> list[int]:
    """Seeds for a path, in order, *keeping repeats*: ``"1,5,1"`` gives ``[1, 5, 1]``.

    Each comma-separated item uses :func:`studio.gan.latents.parse_seeds` syntax
    (``"3"`` or ``"1-4"``); unlike ``parse_seeds`` a seed may appear again later, since a path
    may return to an earlier image.
    """
    items = [item.strip() for item in str(text).split(",")]
    items = [item for item in items if item]
    if not items:
        raise ValueError("no seeds given; write e.g. '1,5,9'")
    return [seed for item in items for seed in latents.parse_seeds(item)]


def _segments(num_keyframes: int, loop: bool) -> int:
    """The number of segments of a path through ``num_keyframes`` keyframes."""
    if isinstance(num_keyframes, bool) or not isinstance(num_keyframes, (int, np.integer)):
        raise ValueError(f"the number of keyframes must be a whole number, got {num_keyframes!r}")
    if num_keyframes < 2:
        raise ValueError(f"an interpolation needs at least 2 keyframes, got {num_keyframes}")
    return int(num_keyframes) if loop else int(num_keyframes) - 1


def _check_count(name: str, value: int, low: int) -> int:
    """Return ``value`` as an int when it is a whole number >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return int(value)


def frame_count(
    num_keyframes: int,
    frames: int | None = None,
    *,
    frames_per_segment: int | None = None,
    loop: bool = False,
) -> int:
    """The total number of frames ``F`` for a path; give ``frames`` or ``frames_per_segment``.

    ``frames`` is returned as is once checked (it must be at least ``num_keyframes``).
    ``frames_per_segment = n`` means ``n`` steps per segment: ``F = n * S + 1`` without looping
    (the final keyframe closes the path) and ``F = n * S`` with looping.
    """
    segments = _segments(num_keyframes, loop)
    if (frames is None) == (frames_per_segment is None):
        raise ValueError("give either the total number of frames or the frames per segment, not both or neither")
    if frames_per_segment is not None:
        n = _check_count("frames per segment", frames_per_segment, 1)
        if n * segments > MAX_FRAMES:
            raise ValueError(f"an interpolation has at most {MAX_FRAMES:,} frames, got {n * segments + 1:,}")
        return n * segments + (0 if loop else 1)
    frames = _check_count("the number of frames", frames, 1)
    if frames > MAX_FRAMES:
        raise ValueError(f"an interpolation has at most {MAX_FRAMES:,} frames (over an hour at 30 fps), got {frames:,}")
    if frames < num_keyframes:
        raise ValueError(
            f"{num_keyframes} keyframes need at least {num_keyframes} frames (every keyframe is a frame), "
            f"got {frames}"
        )
    return frames


def frame_schedule(
    num_keyframes: int,
    frames: int | None = None,
    *,
    frames_per_segment: int | None = None,
    loop: bool = False,
) -> list[tuple[int, float]]:
    """Where each frame lies: a list of ``(k, t)``, one per frame, in order.

    ``(k, t)`` means ``t`` (``0 <= t < 1``) of the way from keyframe ``k`` to keyframe
    ``(k + 1) % num_keyframes``; ``t == 0`` is keyframe ``k`` itself. The distribution is the
    one described in the module docstring: steps shared evenly between the segments (earlier
    segments take the remainder), every keyframe a frame, and without looping the final entry
    is ``(num_keyframes - 1, 0.0)``.
    """
    total = frame_count(num_keyframes, frames, frames_per_segment=frames_per_segment, loop=loop)
    segments = _segments(num_keyframes, loop)
    steps = total if loop else total - 1
    base, extra = divmod(steps, segments)
    schedule: list[tuple[int, float]] = []
    for k in range(segments):
        n = base + (1 if k < extra else 0)
        schedule.extend((k, i / n) for i in range(n))
    if not loop:
        schedule.append((num_keyframes - 1, 0.0))
    return schedule


# ---------------------------------------------------------------------------------------------
# The path in latent space
# ---------------------------------------------------------------------------------------------


def _keyframe_w(renderer: Renderer, keyframe: Keyframe, settings: RenderSettings) -> torch.Tensor:
    """The ws ``[num_ws, w_dim]`` of a keyframe (truncation applied to seeds and z)."""
    w = keyframe.latent.w
    if w is not None and w.size not in (renderer.G.w_dim, renderer.num_ws * renderer.G.w_dim):
        raise ValueError(
            f"keyframe {_name(keyframe)}: w has {w.size} numbers, but this model needs {renderer.G.w_dim} "
            f"(one w) or {renderer.num_ws}x{renderer.G.w_dim} (every layer)"
        )
    latent = Latent(w=w.reshape(-1)) if w is not None and w.size == renderer.G.w_dim else keyframe.latent
    return renderer.ws_from_latent(latent, settings)[0]


def _keyframe_z(renderer: Renderer, keyframe: Keyframe) -> torch.Tensor:
    """The z ``[z_dim]`` of a keyframe; a w keyframe has none (ValueError)."""
    latent, z_dim = keyframe.latent, renderer.G.z_dim
    if latent.w is not None:
        raise ValueError(
            f"keyframe {_name(keyframe)} is a w latent, which has no z: interpolate in W (space 'w') instead"
        )
    if latent.z is not None:
        if latent.z.size != z_dim:
            raise ValueError(f"keyframe {_name(keyframe)}: z has {latent.z.size} numbers, but this model needs {z_dim}")
        z = latent.z.reshape(z_dim)
    else:
        z = latents.z_from_seed(latent.seed, z_dim)
    return torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32)).to(renderer.device)


def _name(keyframe: Keyframe) -> str:
    """How a keyframe is named in error messages."""
    if keyframe.label:
        return repr(keyframe.label)
    return f"seed {keyframe.latent.seed}" if keyframe.latent.seed is not None else "(unlabelled)"


def _along_path(
    points: torch.Tensor,
    schedule: Sequence[tuple[int, float]],
    interpolate: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """Evaluate the path through ``points`` ``[K, ...]`` at every ``(k, t)`` of ``schedule``.

    Frames with ``t == 0`` are copied from the keyframe itself (bit-exact); the rest come from
    ``interpolate(a, b, ts)`` segment by segment, which returns ``[len(ts), ...]``.
    """
    num = points.shape[0]
    out = torch.empty((len(schedule), *points.shape[1:]), dtype=points.dtype, device=points.device)
    by_segment: dict[int, list[tuple[int, float]]] = {}
    for index, (k, t) in enumerate(schedule):
        if t == 0.0:
            out[index] = points[k]
        else:
            by_segment.setdefault(k, []).append((index, t))
    for k, entries in by_segment.items():
        rows = [index for index, _ in entries]
        ts = torch.tensor([t for _, t in entries], dtype=points.dtype, device=points.device)
        out[rows] = interpolate(points[k], points[(k + 1) % num], ts)
    return out


def interpolation_ws(
    renderer: Renderer,
    keyframes: Sequence[Keyframe],
    frames: int | None = None,
    *,
    frames_per_segment: int | None = None,
    space: Space = "w",
    loop: bool = False,
    settings: RenderSettings = RenderSettings(),
    easing: str = "linear",
) -> torch.Tensor:
    """The ws ``[F, num_ws, w_dim]`` (on the renderer's device) of every frame of the path.

    ``easing`` (:data:`EASINGS`) spreads the frames of each segment evenly or eases them in and
    out of the keyframes; the keyframes themselves stay exact frames either way.

    Give the length as ``frames`` (the total ``F``) or ``frames_per_segment``; see
    :func:`frame_schedule` for how frames are spread over the segments.

    ``space="w"``: linear interpolation between the keyframes' ws, taken *after* truncation (and
    class conditioning) with ``settings``; explicit w keyframes are used as given. ``space="z"``:
    spherical interpolation (slerp) between the keyframes' z vectors (seeds give
    ``RandomState(seed).randn``), each frame's z then mapped to ws with ``settings``' truncation.
    Keyframes given as w cannot be interpolated in Z (ValueError).

    Keyframe frames are exact: frame ``i`` at keyframe ``k`` equals that keyframe's ws (in Z up
    to the mapping network's float rounding between batch sizes).
    """
    if space not in ("w", "z"):
        raise ValueError(f"unknown interpolation space {space!r}: use 'w' (linear in W) or 'z' (spherical in Z)")
    keyframes = list(keyframes)
    for keyframe in keyframes:
        if not isinstance(keyframe, Keyframe):
            raise ValueError(f"keyframes must be Keyframe objects, got {type(keyframe).__name__}")
    if easing not in EASINGS:
        raise ValueError(f"unknown easing {easing!r}: use {' or '.join(EASINGS)}")
    schedule = frame_schedule(len(keyframes), frames, frames_per_segment=frames_per_segment, loop=loop)
    if easing == "ease":
        schedule = [(k, t * t * (3 - 2 * t)) for k, t in schedule]

    if space == "w":
        points = torch.stack([_keyframe_w(renderer, kf, settings) for kf in keyframes])
        return _along_path(points, schedule, latents.lerp)

    points = torch.stack([_keyframe_z(renderer, kf) for kf in keyframes])   # checks w keyframes first
    zs = _along_path(points, schedule, latents.slerp)
    chunks = [renderer.ws_from_z(zs[start:start + _MAPPING_BATCH], settings)
              for start in range(0, zs.shape[0], _MAPPING_BATCH)]
    return torch.cat(chunks)


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def render_frames(
    renderer: Renderer,
    ws: torch.Tensor,
    settings: RenderSettings = RenderSettings(),
    *,
    progress: ProgressFn | None = None,
    should_cancel: CancelFn | None = None,
) -> Iterator[np.ndarray]:
    """Yield the uint8 image ``[H, W, C]`` of each w in ``ws``, rendered batch by batch.

    ``should_cancel`` is asked before each batch; when it returns True the generator raises
    :class:`RenderCancelled` (so a writer consuming it aborts and leaves no file).
    ``progress(done, total)`` is called after each batch. With ``noise_mode="random"`` every
    frame uses the same noise (from ``settings.noise_seed``, default 0) so the video does not
    flicker.
    """
    if ws.dim() != 3:
        raise ValueError(f"ws must have shape [frames, num_ws, w_dim], got {list(ws.shape)}")
    total = ws.shape[0]
    noise_seed = settings.noise_seed if settings.noise_seed is not None else 0
    for start in range(0, total, renderer.batch_size):
        if should_cancel is not None and should_cancel():
            raise RenderCancelled()
        chunk = ws[start:start + renderer.batch_size]
        noise = [noise_seed] * chunk.shape[0] if settings.noise_mode == "random" else None
        images = renderer.synthesize(chunk, settings, noise)
        yield from images
        if progress is not None:
            progress(start + chunk.shape[0], total)
