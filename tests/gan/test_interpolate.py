"""Interpolation paths (schedule, W lerp, Z slerp), frame rendering and the GIF / MP4 / PNG writers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from studio.gan.formats import load_network
from studio.gan.interpolate import (
    Keyframe,
    RenderCancelled,
    frame_count,
    frame_schedule,
    interpolation_ws,
    parse_keyframe_seeds,
    render_frames,
)
from studio.gan.latents import slerp, zs_from_seeds
from studio.gan.recipe import Latent
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings
from studio.imaging.video import video_kind, write_frames, write_gif, write_mp4, write_video

SETTINGS = RenderSettings(truncation_psi=0.7)


@pytest.fixture(scope="module")
def renderer(golden, tmp_path_factory):
    """The tiny 64 px rosinality network from the golden data, on the CPU."""
    folder = tmp_path_factory.mktemp("models")
    sg2 = golden("rosinality_sg2_64")
    torch.save({"g_ema": sg2.group("g_ema"), "latent_avg": sg2["in.truncation_latent"][0]}, folder / "sg2.pt")
    return Renderer(load_network(folder / "sg2.pt"), device="cpu", batch_size=4)


def _seeds(*seeds: int) -> list[Keyframe]:
    return [Keyframe.from_seed(seed) for seed in seeds]


def _close(a: np.ndarray, b: np.ndarray, tol: int = 1) -> bool:
    """Images equal up to float rounding between batch sizes."""
    return a.shape == b.shape and int(np.abs(a.astype(int) - b.astype(int)).max()) <= tol


def _synth(renderer: Renderer, ws: torch.Tensor) -> np.ndarray:
    return renderer.synthesize(ws, SETTINGS)


def _gradient_frames(count: int, height: int = 24, width: int = 32) -> list[np.ndarray]:
    """Distinct, smooth synthetic frames (no network needed)."""
    y, x = np.mgrid[0:height, 0:width]
    return [np.stack([(x * 8 + i * 20) % 256, (y * 10) % 256, np.full_like(x, i * 30 % 256)], axis=2).astype(np.uint8)
            for i in range(count)]


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- schedule -----------------------------------------------------------------------------------


def test_schedule_without_loop_includes_both_ends_and_hits_every_keyframe():
    schedule = frame_schedule(3, 7)
    assert len(schedule) == 7
    assert schedule[0] == (0, 0.0) and schedule[3] == (1, 0.0) and schedule[-1] == (2, 0.0)
    assert [t for _, t in schedule[:3]] == pytest.approx([0, 1 / 3, 2 / 3])


def test_schedule_with_loop_does_not_repeat_the_first_frame():
    schedule = frame_schedule(3, 6, loop=True)
    assert schedule == [(0, 0.0), (0, 0.5), (1, 0.0), (1, 0.5), (2, 0.0), (2, 0.5)]
    assert (0, 0.0) not in schedule[1:]


def test_uneven_frames_go_to_the_earlier_segments():
    # 6 frames, 3 keyframes: 5 steps over 2 segments -> 3 + 2
    assert [k for k, _ in frame_schedule(3, 6)] == [0, 0, 0, 1, 1, 2]
    # looping: 7 steps over 3 segments -> 3 + 2 + 2
    assert [k for k, _ in frame_schedule(3, 7, loop=True)] == [0, 0, 0, 1, 1, 2, 2]


def test_frames_per_segment():
    assert frame_count(3, frames_per_segment=4) == 9
    assert frame_count(3, frames_per_segment=4, loop=True) == 12
    assert frame_schedule(2, frames_per_segment=2) == [(0, 0.0), (0, 0.5), (1, 0.0)]


@pytest.mark.parametrize("kwargs, message", [
    ({"num_keyframes": 1, "frames": 5}, "at least 2 keyframes"),
    ({"num_keyframes": 4, "frames": 3}, "at least 4 frames"),
    ({"num_keyframes": 3, "frames": 2, "loop": True}, "at least 3 frames"),
    ({"num_keyframes": 3}, "either"),
    ({"num_keyframes": 3, "frames": 9, "frames_per_segment": 2}, "either"),
    ({"num_keyframes": 3, "frames_per_segment": 0}, "at least 1"),
])
def test_bad_schedules_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        frame_schedule(**kwargs)


def test_keyframe_seeds_keep_repeats_and_order():
    assert parse_keyframe_seeds("1, 5,1, 3-4") == [1, 5, 1, 3, 4]
    with pytest.raises(ValueError, match="backwards"):
        parse_keyframe_seeds("1,4-2")
    with pytest.raises(ValueError, match="no seeds"):
        parse_keyframe_seeds(" , ")


# -- the path -----------------------------------------------------------------------------------


def test_frame_count_with_and_without_loop(renderer):
    plain = interpolation_ws(renderer, _seeds(1, 5, 9), 7, settings=SETTINGS)
    looped = interpolation_ws(renderer, _seeds(1, 5, 9), 7, loop=True, settings=SETTINGS)
    per_segment = interpolation_ws(renderer, _seeds(1, 5, 9), frames_per_segment=3, loop=True, settings=SETTINGS)
    assert plain.shape == looped.shape == (7, renderer.num_ws, renderer.G.w_dim)
    assert per_segment.shape[0] == 9
    keys = torch.cat([renderer.ws_from_latent(Latent(seed=seed), SETTINGS) for seed in (1, 5, 9)])
    assert torch.equal(plain[-1], keys[2])           # without loop: ends exactly on the last keyframe
    assert not torch.equal(looped[-1], keys[0])      # looping: the first frame is not repeated ...
    assert torch.equal(looped[0], keys[0])
    expected_last = keys[2] + (keys[0] - keys[2]) * 0.5  # ... the last frame is on the way back to it
    assert torch.allclose(looped[-1], expected_last, atol=1e-6)


def test_first_frame_is_the_first_keyframes_image(renderer):
    ws = interpolation_ws(renderer, _seeds(3, 8), 5, settings=SETTINGS)
    frames = list(render_frames(renderer, ws, SETTINGS))
    assert len(frames) == 5 and frames[0].shape == (64, 64, 3) and frames[0].dtype == np.uint8
    (_, first), = renderer.render_seeds([3], SETTINGS)
    (_, last), = renderer.render_seeds([8], SETTINGS)
    assert _close(frames[0], first) and _close(frames[-1], last)
    assert not _close(frames[0], frames[-1], tol=10)


def test_w_midpoint_is_the_average_of_the_two_ws(renderer):
    ws = interpolation_ws(renderer, _seeds(3, 8), 3, space="w", settings=SETTINGS)
    wa, wb = renderer.ws_from_seeds([3, 8], SETTINGS)
    average = (wa + wb) / 2
    assert torch.allclose(ws[1], average, atol=1e-6)
    frames = list(render_frames(renderer, ws, SETTINGS))
    assert _close(frames[1], _synth(renderer, average[None])[0])


def test_explicit_w_and_z_keyframes(renderer):
    wa, wb = renderer.ws_from_seeds([3, 8], SETTINGS)
    ws = interpolation_ws(renderer, [Keyframe.from_w(wa.numpy()), Keyframe.from_w(wb[:1].numpy())], 3,
                          settings=SETTINGS)
    assert torch.equal(ws[0], wa) and torch.equal(ws[-1], wb[0].expand_as(wb))
    z = zs_from_seeds([8], renderer.G.z_dim)[0]
    by_z = interpolation_ws(renderer, [Keyframe.from_seed(3), Keyframe.from_z(z)], 4, space="z", settings=SETTINGS)
    by_seed = interpolation_ws(renderer, _seeds(3, 8), 4, space="z", settings=SETTINGS)
    assert torch.equal(by_z, by_seed)


def test_z_slerp_endpoints_and_midpoint(renderer):
    ws = interpolation_ws(renderer, _seeds(3, 8), 5, space="z", settings=SETTINGS)
    keys = renderer.ws_from_seeds([3, 8], SETTINGS)
    assert torch.allclose(ws[0], keys[0], atol=1e-5) and torch.allclose(ws[-1], keys[1], atol=1e-5)
    za, zb = zs_from_seeds([3, 8], renderer.G.z_dim)
    middle = renderer.ws_from_z(slerp(za, zb, 0.5)[None], SETTINGS)[0]
    assert torch.allclose(ws[2], middle, atol=1e-5)
    linear = interpolation_ws(renderer, _seeds(3, 8), 5, space="w", settings=SETTINGS)
    assert not torch.allclose(ws[2], linear[2], atol=1e-3)   # a different path between the same ends


def test_w_keyframes_refuse_z_space(renderer):
    w = renderer.ws_from_seeds([3], SETTINGS)[0].numpy()
    with pytest.raises(ValueError, match="no z.*space 'w'"):
        interpolation_ws(renderer, [Keyframe.from_seed(1), Keyframe.from_w(w, "favourite")], 4, space="z")
    with pytest.raises(ValueError, match="unknown interpolation space"):
        interpolation_ws(renderer, _seeds(1, 2), 4, space="s")
    with pytest.raises(ValueError, match="needs 64"):
        interpolation_ws(renderer, [Keyframe.from_seed(1), Keyframe.from_w(np.zeros(5))], 4)
    with pytest.raises(ValueError, match="seed, a z or a w"):
        Keyframe(Latent())


def test_render_frames_reports_progress_and_cancels_between_batches(renderer):
    ws = interpolation_ws(renderer, _seeds(1, 2), 10, settings=SETTINGS)
    calls: list[tuple[int, int]] = []
    assert len(list(render_frames(renderer, ws, SETTINGS, progress=lambda d, t: calls.append((d, t))))) == 10
    assert calls == [(4, 10), (8, 10), (10, 10)]
    got: list[np.ndarray] = []
    with pytest.raises(RenderCancelled):
        for frame in render_frames(renderer, ws, SETTINGS, should_cancel=lambda: len(got) >= 4):
            got.append(frame)
    assert len(got) == 4


def test_random_noise_is_the_same_for_every_frame(renderer):
    noisy = RenderSettings(truncation_psi=0.7, noise_mode="random", noise_seed=11)
    ws = renderer.ws_from_seeds([3, 3, 3, 3, 3, 3], noisy)   # one image six times: no flicker allowed
    frames = list(render_frames(renderer, ws, noisy))
    assert all(_close(frame, frames[0]) for frame in frames)


# -- writers ------------------------------------------------------------------------------------


def test_gif_has_every_frame_and_loops(tmp_path):
    frames = _gradient_frames(7)
    assert write_gif(iter(frames), tmp_path / "anim.gif", fps=20) == 7
    with Image.open(tmp_path / "anim.gif") as gif:
        assert gif.n_frames == 7 and gif.size == (32, 24) and gif.info["loop"] == 0
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
            assert np.abs(np.asarray(gif.convert("RGB")).astype(int) - frames[i]).mean() < 8
    assert durations == [50] * 7
    write_gif(frames, tmp_path / "once.gif", fps=24, loop=False)
    with Image.open(tmp_path / "once.gif") as gif:
        assert gif.n_frames == 7 and "loop" not in gif.info
    assert _leftovers(tmp_path) == ["anim.gif", "once.gif"]


def test_gif_keeps_identical_frames_and_drops_alpha(tmp_path):
    frame = np.dstack([_gradient_frames(1)[0], np.full((24, 32), 128, np.uint8)])
    write_gif([frame, frame, frame], tmp_path / "still.gif")
    with Image.open(tmp_path / "still.gif") as gif:
        assert gif.n_frames == 3


def test_mp4_is_readable_back(tmp_path):
    import imageio.v2 as imageio

    frames = _gradient_frames(9, 48, 64)
    assert write_mp4(iter(frames), tmp_path / "video.mp4", fps=12) == 9
    with imageio.get_reader(tmp_path / "video.mp4") as reader:
        back = [frame for frame in reader]
        assert reader.get_meta_data()["fps"] == pytest.approx(12)
    assert len(back) == 9 and back[0].shape == (48, 64, 3)
    assert np.abs(back[4].astype(int) - frames[4]).mean() < 8
    assert _leftovers(tmp_path) == ["video.mp4"]


def test_mp4_with_odd_sizes_is_padded(tmp_path):
    import imageio.v2 as imageio

    frames = _gradient_frames(4, 33, 35)
    write_mp4(frames, tmp_path / "odd.mp4")
    back = imageio.mimread(tmp_path / "odd.mp4")
    assert len(back) == 4 and back[0].shape == (34, 36, 3)


def test_rendered_frames_stream_into_an_mp4(renderer, tmp_path):
    import imageio.v2 as imageio

    ws = interpolation_ws(renderer, _seeds(1, 2), 6, settings=SETTINGS)
    assert write_video(render_frames(renderer, ws, SETTINGS), tmp_path / "morph.mp4") == 6
    assert len(imageio.mimread(tmp_path / "morph.mp4")) == 6


def test_png_frames_are_numbered(tmp_path):
    frames = _gradient_frames(3)
    assert write_frames(frames, tmp_path / "seq") == 3
    assert _leftovers(tmp_path / "seq") == ["frame0000.png", "frame0001.png", "frame0002.png"]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "seq" / "frame0002.png")), frames[2])
    write_frames(frames[:1], tmp_path / "seq", prefix="take")
    assert "take0000.png" in _leftovers(tmp_path / "seq")


def _failing(frames: list[np.ndarray], after: int):
    """Frames that stop with RenderCancelled after ``after`` of them."""
    for i, frame in enumerate(frames):
        if i == after:
            raise RenderCancelled()
        yield frame


@pytest.mark.parametrize("name", ["video.mp4", "anim.gif", "frames"])
def test_cancelled_writes_leave_nothing(tmp_path, name):
    with pytest.raises(RenderCancelled):
        write_video(_failing(_gradient_frames(6), after=3), tmp_path / name)
    assert _leftovers(tmp_path) == ([] if name != "frames" else ["frames"])
    if name == "frames":
        assert _leftovers(tmp_path / "frames") == []


def test_a_cancelled_render_keeps_the_old_file(renderer, tmp_path):
    target = tmp_path / "anim.gif"
    write_gif(_gradient_frames(2), target)
    before = target.read_bytes()
    ws = interpolation_ws(renderer, _seeds(1, 2), 10, settings=SETTINGS)
    batches = iter([False, True])
    with pytest.raises(RenderCancelled):
        write_gif(render_frames(renderer, ws, SETTINGS, should_cancel=lambda: next(batches)), target)
    assert target.read_bytes() == before and _leftovers(tmp_path) == ["anim.gif"]


def test_writers_refuse_bad_input(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        write_mp4([], tmp_path / "empty.mp4")
    with pytest.raises(ValueError, match="no frames"):
        write_gif(iter([]), tmp_path / "empty.gif")
    frames = _gradient_frames(2)
    with pytest.raises(ValueError, match="first frame"):
        write_gif([frames[0], frames[1][:10]], tmp_path / "mixed.gif")
    with pytest.raises(ValueError, match="uint8"):
        write_mp4([frames[0].astype(np.float32)], tmp_path / "float.mp4")
    with pytest.raises(ValueError, match="positive"):
        write_gif(frames, tmp_path / "a.gif", fps=0)
    with pytest.raises(ValueError, match="quality"):
        write_mp4(frames, tmp_path / "a.mp4", quality=11)
    assert _leftovers(tmp_path) == []


def test_video_kind_dispatch(tmp_path):
    assert video_kind(tmp_path / "a.MP4") == "mp4"
    assert video_kind(tmp_path / "a.gif") == "gif"
    assert video_kind(tmp_path / "frames") == "frames"
    assert video_kind(tmp_path) == "frames"
    with pytest.raises(ValueError, match=r"\.mp4 or \.gif"):
        video_kind(tmp_path / "a.avi")
