"""Interpolation videos: a path through latent space between keyframes, rendered and exported.

The pieces, in the order a caller uses them:

* :class:`Keyframe` - one stop on the path (a seed, a z or a w, plus an optional label).
* :func:`frame_schedule` - where each output frame lies between the keyframes.
* :func:`interpolation_ws` - the ws ``[F, num_ws, w_dim]`` of every frame, interpolated
  linearly in W or spherically in Z.
* :func:`render_frames` - streams the uint8 frames batch by batch (progress, cancellation).
* :func:`write_frames`, :func:`write_gif`, :func:`write_mp4` and the dispatcher
  :func:`write_video` - consume any iterator of frames, so a long video never has to be held in
  memory, and write atomically: a finished file appears complete or not at all.

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

import contextlib
import os
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Literal, Sequence

import numpy as np
import torch

from studio.engine import latents
from studio.engine.atomic import atomic_path
from studio.engine.errors import StudioError
from studio.engine.recipe import Latent
from studio.engine.render import RenderSettings

if TYPE_CHECKING:
    from studio.engine.render import Renderer

__all__ = [
    "Keyframe",
    "RenderCancelled",
    "Space",
    "VIDEO_KINDS",
    "frame_count",
    "frame_schedule",
    "interpolation_ws",
    "parse_keyframe_seeds",
    "render_frames",
    "video_kind",
    "write_frames",
    "write_gif",
    "write_mp4",
    "write_video",
]

Space = Literal["w", "z"]
ProgressFn = Callable[[int, int], None]   # (done, total)
CancelFn = Callable[[], bool]

#: What :func:`write_video` can write, by :func:`video_kind`.
VIDEO_KINDS = ("mp4", "gif", "frames")

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

    Each comma-separated item uses :func:`studio.engine.latents.parse_seeds` syntax
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
        return n * segments + (0 if loop else 1)
    frames = _check_count("the number of frames", frames, 1)
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
) -> torch.Tensor:
    """The ws ``[F, num_ws, w_dim]`` (on the renderer's device) of every frame of the path.

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
    schedule = frame_schedule(len(keyframes), frames, frames_per_segment=frames_per_segment, loop=loop)

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


# ---------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------


def _check_frame(frame: np.ndarray, index: int, size: tuple[int, ...] | None) -> np.ndarray:
    """Return ``frame`` as a contiguous uint8 ``[H, W, C]`` array; its shape must match ``size``."""
    array = np.asarray(frame)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (1, 3, 4) or 0 in array.shape:
        raise ValueError(
            f"frame {index} is not a uint8 image [H, W, 1|3|4] (got {array.dtype} {list(array.shape)})"
        )
    if size is not None and array.shape != size:
        raise ValueError(f"frame {index} is {list(array.shape)}, but the first frame is {list(size)}")
    return np.ascontiguousarray(array)


def _checked_frames(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Yield validated frames that all have the shape of the first one."""
    size = None
    for index, frame in enumerate(frames):
        frame = _check_frame(frame, index, size)
        size = frame.shape
        yield frame


def _rgb(frame: np.ndarray) -> np.ndarray:
    """An ``[H, W, 3]`` view for video formats: grey is repeated, alpha is dropped."""
    if frame.shape[2] == 1:
        return np.repeat(frame, 3, axis=2)
    return frame[:, :, :3]


def _check_fps(fps: float) -> float:
    """Return ``fps`` as a positive finite float."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)) or not np.isfinite(fps) \
            or fps <= 0:
        raise ValueError(f"frames per second must be a positive number, got {fps!r}")
    return float(fps)


def _no_frames() -> ValueError:
    return ValueError("there are no frames to write")


def write_frames(frames: Iterable[np.ndarray], folder: str | os.PathLike[str], prefix: str = "frame") -> int:
    """Write each frame as ``PREFIX0000.png``, ``PREFIX0001.png``, ... in ``folder``; return the count.

    The folder is created if needed. Every PNG is written atomically, and when writing fails or
    is interrupted (for example :class:`RenderCancelled`) the frames this call already wrote are
    removed again, so no partial sequence is left (a file that existed before under one of the
    names has, however, already been replaced). Frames keep their channels (grey, RGB or RGBA).
    Older files in the folder are not touched.
    """
    from PIL import Image

    if not prefix or any(sep in prefix for sep in ("/", "\\", os.sep)):
        raise ValueError(f"the frame name prefix must be a plain name, got {prefix!r}")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        for index, frame in enumerate(_checked_frames(frames)):
            path = out / f"{prefix}{index:04d}.png"
            image = Image.fromarray(frame[:, :, 0] if frame.shape[2] == 1 else frame)
            with atomic_path(path) as temp:
                image.save(temp, format="PNG")
            written.append(path)
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    if not written:
        raise _no_frames()
    return len(written)


# -- GIF ----------------------------------------------------------------------------------------
#
# Pillow's animated-GIF writer keeps every frame in memory until the end. To stream, each frame
# is encoded by Pillow as a one-frame GIF with its own (local) colour table, and the image blocks
# are spliced into one file behind a single header, a looping extension and per-frame delays.


def _gif_image_block(data: bytes) -> tuple[bytes, bytes]:
    """Split a one-frame GIF into (its header with global colour table, its image block).

    The image block runs from the image descriptor (``,``) to just before the trailer (``;``).
    """
    if data[:6] not in (b"GIF87a", b"GIF89a") or data[-1:] != b";":
        raise ValueError("Pillow produced an unexpected GIF")   # pragma: no cover - defensive
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    header = data[:pos]
    while data[pos] == 0x21:   # extension blocks: introducer, label, sub-blocks, terminator
        pos += 2
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    if data[pos] != 0x2C:
        raise ValueError("Pillow produced an unexpected GIF")   # pragma: no cover - defensive
    return header, data[pos:-1]


def _gif_delays(fps: float) -> Iterator[int]:
    """Per-frame delays in hundredths of a second whose running sum tracks ``fps`` exactly.

    GIF times are whole hundredths; 24 fps alternates 4 and 5. Viewers slow delays below 2
    down, so faster rates are capped at 50 fps.
    """
    index = 0
    while True:
        delay = round((index + 1) * 100 / fps) - round(index * 100 / fps)
        yield max(2, delay)
        index += 1


def write_gif(frames: Iterable[np.ndarray], path: str | os.PathLike[str], fps: float = 24, loop: bool = True) -> int:
    """Write an animated GIF atomically, one frame at a time; return the number of frames.

    Each frame gets its own 256-colour palette (median cut with Floyd-Steinberg dithering), which
    keeps the colours of a morphing image much better than one shared palette. ``loop=True``
    plays forever; ``loop=False`` plays once. Alpha is dropped (GIF has no partial
    transparency). Frame delays are whole hundredths of a second, alternating so that the average
    rate is ``fps`` (at most 50).
    """
    from PIL import Image

    fps = _check_fps(fps)
    frames = iter(_checked_frames(frames))
    first = next(frames, None)
    if first is None:
        raise _no_frames()
    count = 0
    with atomic_path(path) as temp, open(temp, "wb") as stream:
        delays = _gif_delays(fps)
        for frame in _chain(first, frames):
            image = Image.fromarray(_rgb(frame)).quantize(
                colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
            buffer = BytesIO()
            image.save(buffer, format="GIF", include_color_table=True)
            header, block = _gif_image_block(buffer.getvalue())
            if count == 0:
                stream.write(b"GIF89a" + header[6:])
                if loop:   # NETSCAPE2.0 application extension: repeat forever
                    stream.write(b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")
            delay = next(delays)
            # graphic control extension: no disposal, no transparency, the delay
            stream.write(b"!\xf9\x04\x00" + delay.to_bytes(2, "little") + b"\x00\x00")
            stream.write(block)
            count += 1
        stream.write(b";")
    return count


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """``first`` followed by ``rest``."""
    yield first
    yield from rest


# -- MP4 ----------------------------------------------------------------------------------------


def _even(frame: np.ndarray) -> np.ndarray:
    """Pad an odd width or height by one repeated edge pixel (H.264 in yuv420p needs even sizes)."""
    pad_h, pad_w = frame.shape[0] % 2, frame.shape[1] % 2
    if not pad_h and not pad_w:
        return frame
    return np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def write_mp4(frames: Iterable[np.ndarray], path: str | os.PathLike[str], fps: float = 30, quality: float = 8) -> int:
    """Write an H.264 MP4 (yuv420p, plays everywhere) atomically, streaming; return the frame count.

    Uses the ffmpeg binary shipped with ``imageio-ffmpeg``. ``quality`` runs from 1 (smallest)
    to 10 (best); 8 is visually lossless for most images. A frame with an odd width or height is
    padded by one repeated edge pixel on the right / bottom, since the format needs even sizes.
    Alpha is dropped. If the frames raise (e.g. :class:`RenderCancelled`) or encoding fails, no
    file is left behind.
    """
    import imageio_ffmpeg

    fps = _check_fps(fps)
    if isinstance(quality, bool) or not isinstance(quality, (int, float)) or not 1 <= quality <= 10:
        raise ValueError(f"the video quality must be a number from 1 to 10, got {quality!r}")
    frames = iter(_checked_frames(frames))
    first = next(frames, None)
    if first is None:
        raise _no_frames()
    height, width = _even(first).shape[:2]
    count = 0
    with atomic_path(path) as temp:
        writer = imageio_ffmpeg.write_frames(
            str(temp), (width, height), fps=fps, quality=float(quality), macro_block_size=1,
            ffmpeg_log_level="error", output_params=["-f", "mp4", "-movflags", "+faststart"])
        try:
            writer.send(None)
            for frame in _chain(first, frames):
                writer.send(np.ascontiguousarray(_even(_rgb(frame))))
                count += 1
        finally:
            writer.close()
        if os.path.getsize(temp) == 0:
            raise OSError(f"ffmpeg could not encode {path}")
    return count


# -- Dispatch -------------------------------------------------------------------------------------


def video_kind(path: str | os.PathLike[str]) -> str:
    """What :func:`write_video` writes at ``path``: ``"mp4"``, ``"gif"`` or ``"frames"`` (a folder).

    A path ending in ``.mp4`` or ``.gif`` (any case) is a file; an existing folder or a path
    without a suffix is a folder of PNG frames. Any other suffix is refused (ValueError).
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix in (".mp4", ".gif") and not target.is_dir():
        return suffix[1:]
    if target.is_dir() or not suffix:
        return "frames"
    raise ValueError(
        f"cannot tell how to write {target.name!r}: use a name ending in .mp4 or .gif, or a folder for PNG frames"
    )


def write_video(
    frames: Iterable[np.ndarray],
    path: str | os.PathLike[str],
    fps: float = 30,
    *,
    loop: bool = True,
    quality: float = 8,
    prefix: str = "frame",
) -> int:
    """Write ``frames`` as an MP4, a GIF or a folder of PNGs, by :func:`video_kind`; return the count.

    ``loop`` applies to GIFs, ``quality`` to MP4s and ``prefix`` to PNG folders; ``fps`` to both
    files. The folder holding a file must exist.
    """
    kind = video_kind(path)
    if kind == "mp4":
        return write_mp4(frames, path, fps=fps, quality=quality)
    if kind == "gif":
        return write_gif(frames, path, fps=fps, loop=loop)
    return write_frames(frames, path, prefix=prefix)
