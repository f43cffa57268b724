"""studio.data.prepare: decoding, skipping with reasons, crop modes, labels, CLIP filtering."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.errors import StudioError
from studio.data.prepare import (
    CROP_MODES,
    ImageProblem,
    PrepareCancelled,
    crop_image,
    dataset_file_name,
    load_image,
    parse_keep,
    prepare,
    remove_frame,
    scan_images,
)
from tests.data.helpers import BAD_FILES, make_source, snapshot

OPTS = dict(resolution=32, min_size=16, max_pixels=20_000)


@pytest.fixture
def source(tmp_path) -> tuple[Path, dict[str, tuple[int, int]]]:
    src = tmp_path / "src"
    return src, make_source(src)


def _reasons(report, src: Path) -> dict[str, str]:
    return {p.relative_to(src).as_posix(): r for p, r in report.skipped}


def test_scan_is_recursive_sorted_and_skips_hidden(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("b/z.png", "a.jpg", ".DS_Store", ".hidden/x.png"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in scan_images(tmp_path)] == ["a.jpg", "b/z.png"]


def test_load_image_modes_orientation_and_reasons(source):
    src, good = source
    for rel, (w, h) in good.items():
        img = load_image(src / rel, min_size=16, max_pixels=20_000)
        assert img.mode == "RGB" and img.size == (w, h), rel
    rotated = np.asarray(load_image(src / "portrait/rotated.jpg"))
    assert rotated.shape == (80, 48, 3)
    assert rotated[5, 24, 0] > 200 and rotated[5, 24, 2] < 60       # red on top
    assert rotated[70, 24, 2] > 200 and rotated[70, 24, 0] < 60     # blue below
    sixteen = np.asarray(load_image(src / "portrait/sixteen.png"))
    assert sixteen.min() < 5 and sixteen.max() > 250                # 16-bit scaled, not clipped
    alpha = np.asarray(load_image(src / "portrait/alpha.png")).astype(int)
    assert alpha.min() >= 120                                        # half-transparent over white
    for rel, reason in BAD_FILES.items():
        with pytest.raises(ImageProblem) as info:
            load_image(src / rel, min_size=16, max_pixels=20_000)
        assert info.value.reason.startswith(reason), (rel, info.value.reason)


def test_pillow_default_bomb_limit_applies(source):
    src, _ = source
    with pytest.raises(ImageProblem, match="decompression bomb"):
        load_image(src / "broken/bomb.png")


@pytest.mark.parametrize("mode", CROP_MODES)
def test_prepare_every_crop_mode(tmp_path, source, mode):
    src, good = source
    before = snapshot(src)
    report = prepare(src, tmp_path / "out", crop=mode, **OPTS)
    assert snapshot(src) == before                                   # the source is never modified
    out = tmp_path / "out"
    per = 3 if mode == "three" else 1
    assert report.count == per * len(good) and report.sources_used == len(good)
    assert _reasons(report, src) == {k: _reasons(report, src)[k] for k in BAD_FILES}
    for rel, reason in BAD_FILES.items():
        assert _reasons(report, src)[rel].startswith(reason)
    for i in range(report.count):
        with Image.open(out / dataset_file_name(i)) as img:
            assert img.size == (32, 32) and img.mode == "RGB"
    assert json.loads((out / "dataset.json").read_text()) == {"labels": None}
    meta = json.loads((out / "studio-dataset.json").read_text())
    assert meta["version"] == 1 and meta["resolution"] == 32 and meta["count"] == report.count
    assert meta["crop"] == mode and meta["label_names"] is None and meta["source"] == str(src.resolve())
    if mode == "rect":
        expected = float(np.mean([w / h for w, h in good.values()]))
        assert meta["aspect_ratio"] == pytest.approx(expected) == report.aspect_ratio
    else:
        assert meta["aspect_ratio"] is None
    full = json.loads((out / "report.json").read_text())
    assert {s["source"]: s["reason"] for s in full["skipped"]} == _reasons(report, src)
    assert sorted({k["source"] for k in full["kept"]}) == sorted(good)
    assert not (out / ".staging").exists() and not (out / "rejected").exists()
    if mode == "three":
        parts = {k["source"]: [] for k in full["kept"]}
        for k in full["kept"]:
            parts[k["source"]].append(k["part"])
        assert parts["landscape/rgb_wide.png"] == ["left", "centre", "right"]
        assert parts["landscape/rgb_tall.jpg"] == ["top", "centre", "bottom"]


def test_crop_geometry():
    img = Image.new("RGB", (90, 30), (0, 0, 0))
    img.paste((255, 0, 0), (0, 0, 30, 30))
    img.paste((0, 255, 0), (30, 0, 60, 30))
    img.paste((0, 0, 255), (60, 0, 90, 30))
    left, centre, right = (np.asarray(c) for c in crop_image(img, "three", 8, resample="box"))
    assert left[4, 4].tolist() == [255, 0, 0] and centre[4, 4].tolist() == [0, 255, 0]
    assert right[4, 4].tolist() == [0, 0, 255]
    assert np.asarray(crop_image(img, "square", 8)[0])[4, 4].tolist() == [0, 255, 0]
    padded = np.asarray(crop_image(img, "pad", 12, resample="box")[0])
    assert padded[0, 6].tolist() == [0, 0, 0] and padded[6, 0].tolist() == [255, 0, 0]
    rect = np.asarray(crop_image(img, "rect", 8, aspect_ratio=2.0, resample="box")[0])
    assert rect[4, 0].tolist() == [255, 0, 0] and rect[4, 7].tolist() == [0, 0, 255]  # 60x30 centre
    with pytest.raises(StudioError):
        crop_image(img, "rect", 8)
    with pytest.raises(StudioError):
        crop_image(img, "circle", 8)


def test_remove_frame():
    img = Image.new("RGB", (60, 50), (250, 250, 250))
    img.paste(Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 44, 3), dtype=np.uint8)), (8, 5))
    assert remove_frame(img).size == (44, 40)


def test_labels_from_folders(tmp_path, source):
    src, good = source
    report = prepare(src, tmp_path / "out", labels_from_folders=True, **OPTS)
    assert report.label_names == ["landscape", "portrait"]          # 'broken' has no good picture
    labels = dict(json.loads((tmp_path / "out/dataset.json").read_text())["labels"])
    assert len(labels) == report.count == len(good)
    for kept in report.kept:
        assert labels[kept.file] == report.label_names.index(kept.source.split("/")[0])
    assert json.loads((tmp_path / "out/studio-dataset.json").read_text())["label_names"] == ["landscape", "portrait"]


def test_labels_skip_root_files(tmp_path):
    src = tmp_path / "src"
    (src / "flower").mkdir(parents=True)
    Image.new("RGB", (40, 40), (1, 2, 3)).save(src / "flower/a.png")
    Image.new("RGB", (40, 40), (1, 2, 3)).save(src / "loose.png")
    report = prepare(src, tmp_path / "out", labels_from_folders=True, **OPTS)
    assert report.count == 1 and _reasons(report, src) == {"loose.png": "not in a sub-folder (no label)"}


def test_fifos_and_broken_links_are_listed_without_being_opened(tmp_path):
    """A FIFO would block the first read forever; it and a dangling link are skipped and listed."""
    import os

    src = tmp_path / "src"
    src.mkdir()
    Image.new("RGB", (40, 40), (1, 2, 3)).save(src / "a.png")
    os.mkfifo(src / "pipe.png")
    (src / "gone.png").symlink_to(tmp_path / "nowhere.png")
    assert [p.name for p in scan_images(src)] == ["a.png", "gone.png", "pipe.png"]
    report = prepare(src, tmp_path / "out", **OPTS)   # returns: nothing waited on the FIFO
    reasons = _reasons(report, src)
    assert report.count == 1 and reasons["pipe.png"] == "not a regular file (a FIFO)"
    assert reasons["gone.png"].startswith("unreadable (")
    assert "pipe.png: not a regular file (a FIFO)" in report.summary()


def test_dest_rules(tmp_path, source):
    src, good = source
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(StudioError, match="not empty"):
        prepare(src, out, **OPTS)
    prepare(src, out, force=True, crop="three", **OPTS)
    report = prepare(src, out, force=True, **OPTS)                  # replaces the studio's files only
    assert (out / "mine.txt").read_text() == "keep me"
    assert len(list(out.glob("00000/*.png"))) == report.count == len(good)
    with pytest.raises(StudioError, match="outside the source"):
        prepare(src, src / "out", **OPTS)
    with pytest.raises(StudioError, match="power of two"):
        prepare(src, tmp_path / "o2", resolution=48)
    with pytest.raises(StudioError, match="no usable pictures"):
        prepare(src / "broken", tmp_path / "o3", **OPTS)
    with pytest.raises(StudioError, match="--keep needs"):
        prepare(src, tmp_path / "o4", keep="5", **OPTS)


def test_cancel_leaves_nothing(tmp_path, source):
    src, _ = source
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 20

    with pytest.raises(PrepareCancelled):
        prepare(src, tmp_path / "out", should_cancel=cancel, **OPTS)
    assert not any((tmp_path / "out").iterdir())


def test_parse_keep():
    assert parse_keep("5", 10) == 5 and parse_keep("50", 10) == 10
    assert parse_keep("90%", 10) == 9 and parse_keep("94%", 5314) == 4996
    for bad in ("0", "-1", "x", "0%", "150%"):
        with pytest.raises(StudioError):
            parse_keep(bad, 10)


def test_clip_filter_keeps_top_n_and_copies_rejected(tmp_path, source):
    from tests.clip_fixtures import make_tiny_clip

    src, good = source
    weights, config, _ = make_tiny_clip(tmp_path / "clip")
    events = []
    report = prepare(src, tmp_path / "out", crop="three", clip_filter="impressionist landscape painting",
                     keep="10", clip_spec=str(weights), clip_config=str(config),
                     progress=lambda stage, done, total: events.append(stage), **OPTS)
    total = 3 * len(good)
    assert report.count == 10 and len(report.rejected) == total - 10
    assert {"check", "crop", "clip"} <= set(events)
    worst_kept = min(k.score for k in report.kept)
    assert all(r.score <= worst_kept for r in report.rejected)
    out = tmp_path / "out"
    assert len(list(out.glob("00000/*.png"))) == 10
    rejected_files = sorted(p.relative_to(out).as_posix() for p in (out / "rejected").iterdir())
    assert rejected_files == sorted(r.file for r in report.rejected)    # nothing lost
    full = json.loads((out / "report.json").read_text())
    assert full["clip"]["phrase"] == "impressionist landscape painting" and full["counts"]["rejected"] == total - 10
    assert all(isinstance(k["score"], float) for k in full["kept"] + full["rejected"])
    # a percentage
    report = prepare(src, tmp_path / "out2", clip_filter="a painting", keep="50%",
                     clip_spec=str(weights), clip_config=str(config), **OPTS)
    assert report.count == 4 and len(report.rejected) == 4


def test_force_replaces_only_what_the_studio_wrote(tmp_path, source):
    """Files the artist put in rejected/ or .staging/ survive --force, are listed, and are
    never overwritten by a new rejection of the same name."""
    from tests.clip_fixtures import make_tiny_clip

    src, good = source
    weights, config, _ = make_tiny_clip(tmp_path / "clip")
    clip = dict(clip_filter="a painting", clip_spec=str(weights), clip_config=str(config), **OPTS)
    out = tmp_path / "out"
    first = prepare(src, out, keep="2", **clip)
    mine = out / "rejected" / "keep-me.png"
    mine.write_bytes(b"the artist's own file")
    (out / ".staging").mkdir()
    (out / ".staging" / "notes.txt").write_text("also mine")
    second = prepare(src, out, keep="5", force=True, **clip)
    assert mine.read_bytes() == b"the artist's own file" and (out / ".staging/notes.txt").is_file()
    assert sorted(p.name for p in second.left) == ["keep-me.png", "notes.txt"]
    assert "left 2 files the studio did not make:" in second.summary()
    rejected_now = sorted(p.relative_to(out).as_posix() for p in (out / "rejected").iterdir())
    assert rejected_now == sorted([r.file for r in second.rejected] + ["rejected/keep-me.png"])
    now = {r.file for r in second.rejected}
    assert len(now) == len(good) - 5
    assert not any((out / r.file).exists() for r in first.rejected if r.file not in now)   # the first run's went

    # an artist's file named like a rejection the run is about to write is not overwritten
    mine.unlink()
    third_names = {r.file for r in prepare(src, tmp_path / "probe", keep="5", **clip).rejected}
    taken = out / sorted(third_names)[0]
    report = json.loads((out / "report.json").read_text())
    report["rejected"] = [r for r in report["rejected"] if r["file"] != taken.relative_to(out).as_posix()]
    (out / "report.json").write_text(json.dumps(report))      # so the studio no longer owns it
    taken.write_bytes(b"precious")
    again = prepare(src, out, keep="5", force=True, **clip)
    assert taken.read_bytes() == b"precious" and set(again.left) == {taken, out / ".staging/notes.txt"}
    assert taken.relative_to(out).as_posix() not in {r.file for r in again.rejected}


def test_a_failed_run_removes_only_its_own_files(tmp_path, source):
    src, _ = source
    out = tmp_path / "out"
    prepare(src, out, **OPTS)
    (out / "rejected").mkdir()
    (out / "rejected" / "mine.png").write_bytes(b"x")
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 20

    with pytest.raises(PrepareCancelled):
        prepare(src, out, force=True, should_cancel=cancel, **OPTS)
    assert [p.relative_to(out).as_posix() for p in out.rglob("*")] == ["rejected", "rejected/mine.png"]


def test_cli_prepare(tmp_path, source, capsys):
    from studio.cli import main

    src, good = source
    out = tmp_path / "cli-out"
    rc = main(["prepare", str(src), str(out), "--res", "32", "--crop", "rect", "--min-size", "16",
               "--max-pixels", "20000", "--labels-from-folders"])
    printed = capsys.readouterr().out
    assert rc == 0
    assert f"prepared {len(good)} images at 32x32 (crop rect)" in printed
    assert "truncated.jpg: truncated" in printed and "empty.png: empty file" in printed
    full = json.loads((out / "report.json").read_text())
    assert len(full["skipped"]) == len(BAD_FILES) and full["aspect_ratio"] > 0
    assert full["label_names"] == ["landscape", "portrait"]


def test_cli_prepare_clip(tmp_path, source, capsys):
    from studio.cli import main
    from tests.clip_fixtures import make_tiny_clip

    src, good = source
    weights, config, _ = make_tiny_clip(tmp_path / "clip")
    rc = main(["prepare", str(src), str(tmp_path / "o"), "--res", "32", "--min-size", "16", "--clip-filter",
               "modern painting", "--keep", "5", "--clip", str(weights), "--clip-config", str(config),
               "--device", "cpu"])
    assert rc == 0 and "CLIP rejected 3" in capsys.readouterr().out
    assert len(list((tmp_path / "o/rejected").iterdir())) == len(good) - 5


def test_cli_prepare_with_a_file_name_that_is_not_utf8(tmp_path):
    """On a strict UTF-8 terminal the report still prints (escaped) and the command succeeds."""
    import os
    import subprocess
    import sys

    src = tmp_path / "src"
    src.mkdir()
    Image.new("RGB", (40, 40), (1, 2, 3)).save(src / "good.png")
    with open(os.path.join(os.fsencode(src), b"caf\xe9.png"), "wb") as f:
        f.write(b"not a picture")
    env = dict(os.environ, PYTHONIOENCODING="utf-8:strict", LC_ALL="C.UTF-8")
    result = subprocess.run([sys.executable, "-m", "studio", "prepare", str(src), str(tmp_path / "out"), "--res",
                             "32", "--min-size", "16"], capture_output=True, text=True, errors="replace",
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert "prepared 1 image" in result.stdout and "caf\\udce9.png: not an image" in result.stdout
    assert "Traceback" not in result.stderr and "error" not in result.stderr
    skipped = json.loads((tmp_path / "out/report.json").read_text())["skipped"]
    assert len(skipped) == 1 and skipped[0]["reason"] == "not an image"


@pytest.mark.parametrize("argv, message", [
    (["--res", "100"], "power of two"),
    (["--res", "32", "--keep", "5"], "--keep needs --clip-filter"),
    (["--res", "32", "--clip-filter", "x", "--keep", "lots"], "--keep must be"),
])
def test_cli_prepare_errors_are_one_line(tmp_path, source, capsys, argv, message):
    from studio.cli import main

    src, _ = source
    rc = main(["prepare", str(src), str(tmp_path / "o")] + argv)
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1 and err.startswith("error: ")


def test_cli_prepare_missing_source(tmp_path, capsys):
    from studio.cli import main

    assert main(["prepare", str(tmp_path / "nope"), str(tmp_path / "o"), "--res", "32"]) == 2
    assert "does not exist" in capsys.readouterr().err
