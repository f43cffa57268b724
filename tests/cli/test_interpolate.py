"""`studio interpolate`: MP4, GIF and PNG-folder output, and its one-line errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.gan.formats import load_network
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings


@pytest.fixture(scope="module")
def network(tiny_model):
    """The golden 64 px rosinality network as a checkpoint file (tests/conftest.py)."""
    return tiny_model


def test_writes_an_mp4(network, tmp_path, capsys):
    import imageio.v2 as imageio

    out = tmp_path / "videos" / "morph.mp4"   # the folder is created
    assert main(["interpolate", "--network", str(network), "--seeds", "1,5,9", "--frames", "7", "--fps", "10",
                 "--device", "cpu", "--out", str(out)]) == 0
    assert "wrote 7 frames" in capsys.readouterr().out
    with imageio.get_reader(out) as reader:
        frames = [frame for frame in reader]
        assert reader.get_meta_data()["fps"] == pytest.approx(10)
    assert len(frames) == 7 and frames[0].shape == (64, 64, 3)
    assert [p.name for p in out.parent.iterdir()] == ["morph.mp4"]


def test_writes_a_folder_of_frames_that_loops(network, tmp_path):
    out = tmp_path / "frames"
    assert main(["interpolate", "--network", str(network), "--seeds", "3,8", "--frames", "4", "--loop",
                 "--space", "z", "--trunc", "0.7", "--device", "cpu", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"frame{i:04d}.png" for i in range(4)]
    renderer = Renderer(load_network(network), device="cpu")
    (_, first), = renderer.render_seeds([3], RenderSettings(truncation_psi=0.7))
    (_, halfway), = renderer.render_seeds([8], RenderSettings(truncation_psi=0.7))
    got = [np.asarray(Image.open(out / f"frame{i:04d}.png")).astype(int) for i in (0, 2)]
    assert np.abs(got[0] - first).max() <= 1 and np.abs(got[1] - halfway).max() <= 1


def test_writes_a_gif(network, tmp_path):
    out = tmp_path / "anim.gif"
    assert main(["interpolate", "--network", str(network), "--seeds", "1-2", "--frames", "3", "--loop",
                 "--device", "cpu", "--out", str(out)]) == 0
    with Image.open(out) as gif:
        assert gif.n_frames == 3 and gif.info["loop"] == 0


@pytest.mark.parametrize("args, message", [
    (["--seeds", "7"], "at least 2 seeds"),
    (["--seeds", "1,5,9", "--frames", "2"], "at least 3 frames"),
    (["--seeds", "1,2", "--out", "{tmp}/video.avi"], ".mp4 or .gif"),
    (["--seeds", "1,2", "--fps", "0"], "--fps"),
])
def test_errors_are_one_line_with_exit_code_2(network, tmp_path, capsys, args, message):
    argv = ["interpolate", "--network", str(network), "--device", "cpu", "--out", str(tmp_path / "v.mp4"),
            *[a.format(tmp=tmp_path) for a in args]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_error_from_the_command_line_has_no_traceback(network, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "studio", "interpolate", "--network", str(network), "--seeds", "4",
         "--out", str(tmp_path / "v.mp4")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2
    assert "at least 2 seeds" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_duration_size_and_easing(network, tmp_path):
    out = tmp_path / "big"
    assert main(["interpolate", "--network", str(network), "--seeds", "1,5", "--duration", "0.5", "--fps", "10",
                 "--size", "160", "--easing", "ease", "--device", "cpu", "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 5                                            # 0.5 s at 10 fps
    assert Image.open(out / names[0]).size == (160, 160)             # up from the model's 64 px
    renderer = Renderer(load_network(network), device="cpu")
    ws = renderer.ws_from_seeds([1, 5], RenderSettings())
    from studio.app import interpolation
    from studio.app.mixing import Source

    linear = interpolation.path_ws(renderer, [Source(seed=1), Source(seed=5)], 5, space="w", loop=False,
                                   settings=RenderSettings())
    eased = interpolation.path_ws(renderer, [Source(seed=1), Source(seed=5)], 5, space="w", loop=False,
                                  settings=RenderSettings(), easing="ease")
    assert torch.allclose(eased[0], ws[0], atol=1e-5) and torch.allclose(eased[-1], ws[1], atol=1e-5)   # keyframes
    t = lambda frames: float((frames[1] - ws[0]).norm() / (ws[1] - ws[0]).norm())   # noqa: E731
    assert t(linear) == pytest.approx(0.25, abs=1e-4) and t(eased) == pytest.approx(0.15625, abs=1e-4)


@pytest.mark.parametrize("extra, message", [
    (["--frames", "5", "--duration", "2"], "not both"),
    (["--size", "8"], "--size must be from 16"),
    (["--upscaler", "bicubic"], "--upscaler must be lanczos"),
])
def test_bad_video_options_are_one_line(network, tmp_path, capsys, extra, message):
    assert main(["interpolate", "--network", str(network), "--seeds", "1,5", *extra,
                 "--out", str(tmp_path / "x.gif")]) == 2
    assert message in capsys.readouterr().err
