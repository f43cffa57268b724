"""The procedural painter: determinism, every family at every size, honest captions, datasets, CLI."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from studio.cli import main
from studio.data.procedural import (
    COLOR_NAMES,
    FAMILIES,
    FAMILY_SHAPES,
    SHAPE_NAMES,
    Painting,
    caption_vocabulary,
    nearest_color_names,
    paint,
    write_dataset,
)

COLOURS = list(COLOR_NAMES)


def _pixels(painting: Painting) -> np.ndarray:
    return np.asarray(painting.image)


def _words(caption: str) -> list[str]:
    return re.findall(r"[a-z]+", caption)


def _colours_in(caption: str) -> list[str]:
    """Colour names in a caption, in order ("dark blue" counted once, not also as "blue")."""
    found = []
    for match in re.finditer(r"dark blue|[a-z]+", caption):
        if match.group(0) in COLOR_NAMES:
            found.append(match.group(0))
    return found


def test_vocabulary_constants():
    assert len(FAMILIES) >= 6 and len(set(FAMILIES)) == len(FAMILIES)
    assert set(FAMILY_SHAPES) == set(FAMILIES)
    assert len(set(SHAPE_NAMES)) == len(SHAPE_NAMES) >= 8
    assert {"red", "orange", "yellow", "green", "blue", "dark blue", "purple", "pink", "brown", "black", "white",
            "grey"} <= set(COLOR_NAMES)
    rgb = np.array(list(COLOR_NAMES.values()), dtype=float)
    distances = np.linalg.norm(rgb[:, None] - rgb[None], axis=-1) + np.eye(len(rgb)) * 1e9
    assert distances.min() > 70, "palette colours too close for CLIP to tell apart"


def test_same_seed_same_pixels_different_seeds_differ():
    for seed in (0, 7, 12345):
        a, b = paint(seed, 64), paint(seed, 64)
        assert np.array_equal(_pixels(a), _pixels(b))
        assert a.caption == b.caption and a.attributes == b.attributes
    assert not np.array_equal(_pixels(paint(3, 64)), _pixels(paint(9, 64)))   # same family (3 % 6 == 9 % 6)
    assert not np.array_equal(_pixels(paint(3, 64)), _pixels(paint(4, 64)))
    # an explicit family equal to the seed's own gives the same painting
    seed = 20
    assert np.array_equal(_pixels(paint(seed, 32)), _pixels(paint(seed, 32, FAMILIES[seed % len(FAMILIES)])))


def test_family_from_seed_cycles_and_can_be_forced():
    assert [paint(seed, 16).family for seed in range(len(FAMILIES))] == FAMILIES
    for family in FAMILIES:
        assert paint(5, 16, family).family == family
    with pytest.raises(ValueError):
        paint(1, 64, "cubist")
    with pytest.raises(ValueError):
        paint(-1, 64)
    with pytest.raises(ValueError):
        paint(1, 4)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_every_family_renders(family, resolution):
    for seed in range(3):
        p = paint(seed, resolution, family)
        assert p.image.mode == "RGB" and p.image.size == (resolution, resolution)
        assert p.family == family and p.label == FAMILIES.index(family)
        pixels = _pixels(p).astype(int)
        assert pixels.std() > 10, "blank canvas"
        a = p.attributes
        assert a["family"] == family and a["shape"] in FAMILY_SHAPES[family]
        assert a["dominant_color"] in COLOR_NAMES and a["background_color"] in COLOR_NAMES
        assert a["dominant_color"] != a["background_color"]
        json.dumps(a)   # attributes are plain JSON


def test_composition_and_caption_do_not_depend_on_resolution():
    for seed in range(12):
        captions = {paint(seed, res).caption for res in (32, 64, 128)}
        assert len(captions) == 1, captions


def test_captions_name_family_shape_and_colours():
    vocabulary = set(caption_vocabulary())
    openings = {"geometric": "geometric", "grid": "grid", "colour field": "colour field", "gestural": "gestural",
                "radial": "radial", "biomorphic": "biomorphic"}
    for seed in range(60):
        p = paint(seed, 32)
        a = p.attributes
        assert set(_words(p.caption)) <= vocabulary, p.caption
        assert openings[p.family] in p.caption
        assert a["shape"] in _words(p.caption)
        colours = _colours_in(p.caption)
        assert colours and colours[0] == a["dominant_color"], p.caption   # the dominant colour comes first
        assert p.caption.endswith(f"on {'an' if a['background_color'][0] in 'aeiou' else 'a'} "
                                  f"{a['background_color']} background"), p.caption
        assert "  " not in p.caption and " a o" not in p.caption


def test_example_caption_grammar():
    by_family: dict[str, list[str]] = {}
    for seed in range(120):
        p = paint(seed, 16)
        by_family.setdefault(p.family, []).append(p.caption)
    assert any(re.fullmatch(r"a geometric abstract painting with (large|small|thick|thin) [a-z ]+ "
                            r"(circles|triangles|squares|arcs|lines) on an? [a-z ]+ background", c)
               for c in by_family["geometric"])
    assert any(re.fullmatch(r"a grid painting of [a-z ,]+ rectangles with black lines on a white background", c)
               for c in by_family["grid"])
    assert any(" concentric " in c for c in by_family["radial"])
    assert any(" organic " in c for c in by_family["biomorphic"])


def test_named_dominant_colour_really_dominates():
    """The caption's colour is among the two commonest non-background colours of the pixels themselves."""
    for seed in range(48):
        for resolution in (64, 128):
            p = paint(seed, resolution)
            names = nearest_color_names(p.image)
            counts = np.bincount(names.ravel(), minlength=len(COLOURS)).astype(float)
            counts[COLOURS.index(p.attributes["background_color"])] = -1
            top2 = [COLOURS[i] for i in np.argsort(-counts)[:2]]
            assert p.attributes["dominant_color"] in top2, (seed, resolution, p.caption, top2)
            coverage = p.attributes["coverage"]
            assert coverage[0] >= 0.02
            if len(coverage) > 1:
                assert coverage[0] > coverage[1] * 1.2, (seed, p.caption, coverage)


def test_nearest_color_names_of_pure_palette():
    strip = np.array([list(COLOR_NAMES.values())], dtype=np.uint8)
    assert nearest_color_names(Image.fromarray(strip)).tolist() == [list(range(len(COLOURS)))]


def test_write_dataset_layout_and_labels(tmp_path):
    seen = []
    out = write_dataset(tmp_path / "set", 14, 32, start_seed=100, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (14, 14) and len(seen) == 14
    images = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert images == [f"00000/img{i:08d}.png" for i in range(14)]
    labels = json.loads((out / "dataset.json").read_text())["labels"]
    assert [name for name, _ in labels] == images
    meta = json.loads((out / "studio-dataset.json").read_text())
    assert meta["version"] == 1 and meta["resolution"] == 32 and meta["count"] == 14
    assert meta["crop"] == "procedural" and meta["aspect_ratio"] is None and meta["source"] == "procedural"
    assert meta["label_names"] == FAMILIES and meta["created"]
    rows = [json.loads(line) for line in (out / "captions.jsonl").read_text().splitlines()]
    assert [row["file"] for row in rows] == images
    for i, ((name, label), row) in enumerate(zip(labels, rows)):
        expected = paint(100 + i, 32)
        assert FAMILIES[label] == row["family"] == expected.family
        assert row["caption"] == expected.caption and row["attributes"]["seed"] == 100 + i
        assert np.array_equal(np.asarray(Image.open(out / name)), _pixels(expected))
    assert not list(out.rglob(".*"))   # no temporary files left


def test_write_dataset_families_and_subfolders(tmp_path, monkeypatch):
    import studio.data.procedural as procedural

    tiny = Image.new("RGB", (8, 8), "white")

    def quick(seed, resolution=128, family=None):   # 1002 real paintings would only slow the test down
        family = family or FAMILIES[seed % len(FAMILIES)]
        return Painting(tiny, family, f"a {family} painting", {"seed": seed})

    monkeypatch.setattr(procedural, "paint", quick)
    out = write_dataset(tmp_path / "set", 1002, 8, families=["grid", "radial"])
    labels = json.loads((out / "dataset.json").read_text())["labels"]
    assert labels[999][0] == "00000/img00000999.png" and labels[1000][0] == "00001/img00001000.png"
    assert {FAMILIES[label] for _, label in labels} == {"grid", "radial"}
    assert (out / "00001" / "img00001001.png").is_file()
    # writing a smaller set into the same folder leaves no stale images behind
    write_dataset(out, 3, 8)
    assert sorted(p.name for p in out.rglob("*.png")) == [f"img{i:08d}.png" for i in range(3)]
    with pytest.raises(ValueError):
        write_dataset(tmp_path / "bad", 2, 16, families=["cubist"])


def test_dataset_reader_accepts_it(tmp_path):
    pytest.importorskip("torch")
    from studio.data.dataset import ImageFolderDataset

    out = write_dataset(tmp_path / "set", 8, 32)
    dataset = ImageFolderDataset(out, resolution=32)
    assert len(dataset) == 8
    image, label = dataset[7]
    assert tuple(image.shape) == (3, 32, 32)
    assert int(label.argmax()) == FAMILIES.index(paint(7, 32).family)


def test_cli_writes_dataset(tmp_path, capsys):
    out = tmp_path / "procedural"
    assert main(["procedural", "--count", "7", "--res", "32", "--out", str(out), "--families",
                 "color-field,grid"]) == 0
    assert "wrote 7 procedural paintings" in capsys.readouterr().out
    assert len(list(out.rglob("*.png"))) == 7
    rows = [json.loads(line) for line in (out / "captions.jsonl").read_text().splitlines()]
    assert len(rows) == 7 and {row["family"] for row in rows} == {"colour field", "grid"}
    assert all(row["caption"] for row in rows)
    # a non-empty folder needs --force; bad values are one-line errors
    assert main(["procedural", "--count", "2", "--res", "32", "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["procedural", "--count", "2", "--res", "32", "--out", str(out), "--force"]) == 0
    assert len(list(out.rglob("*.png"))) == 2
    assert main(["procedural", "--count", "0", "--out", str(tmp_path / "x")]) == 2
    assert main(["procedural", "--count", "2", "--families", "cubist", "--out", str(tmp_path / "y")]) == 2
    assert "unknown family" in capsys.readouterr().err


def test_parallel_painting_writes_the_same_dataset(tmp_path):
    from studio.data.procedural import write_dataset

    one = write_dataset(tmp_path / "one", 10, 32, start_seed=7)
    done = []
    two = write_dataset(tmp_path / "two", 10, 32, start_seed=7, workers=2, progress=lambda d, t: done.append(d))
    assert done == list(range(1, 11))
    for name in ("dataset.json", "captions.jsonl"):
        assert (one / name).read_text() == (two / name).read_text()
    files = sorted(p.relative_to(one) for p in one.rglob("*.png"))
    assert len(files) == 10 and files == sorted(p.relative_to(two) for p in two.rglob("*.png"))
    assert all((one / f).read_bytes() == (two / f).read_bytes() for f in files)
