"""studio.data.dataset.ImageFolderDataset on prepared, plain and zipped folders."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from studio.core.errors import StudioError
from studio.data.dataset import ImageFolderDataset
from studio.data.prepare import prepare
from tests.data.helpers import make_source

OPTS = dict(resolution=32, min_size=16, max_pixels=20_000)


@pytest.fixture
def prepared(tmp_path) -> tuple[Path, object]:
    src = tmp_path / "src"
    make_source(src)
    report = prepare(src, tmp_path / "out", labels_from_folders=True, **OPTS)
    return tmp_path / "out", report


def test_reads_prepared_folder_with_labels(prepared):
    out, report = prepared
    ds = ImageFolderDataset(out, resolution=32)
    assert len(ds) == report.count and ds.resolution == 32 and ds.num_channels == 3
    assert ds.has_labels and ds.label_dim == 2 and ds.label_names == ["landscape", "portrait"]
    for i, kept in enumerate(report.kept):
        img, label = ds[i]
        assert img.dtype == torch.uint8 and tuple(img.shape) == (3, 32, 32)
        expected = np.asarray(Image.open(out / kept.file)).transpose(2, 0, 1)
        assert np.array_equal(img.numpy(), expected)
        assert label.dtype == torch.float32 and label.tolist() == [
            float(j == report.label_names.index(kept.label)) for j in range(2)]
    plain = ImageFolderDataset(out, use_labels=False)
    assert not plain.has_labels and plain.label_dim == 0 and plain[0][1].numel() == 0


def test_xflip_and_max_size(prepared):
    out, report = prepared
    ds = ImageFolderDataset(out, xflip=True)
    n = report.count
    assert len(ds) == 2 * n
    img, label = ds[0]
    flipped, flabel = ds[n]
    assert torch.equal(flipped, img.flip(-1)) and torch.equal(label, flabel)
    with pytest.raises(IndexError):
        ds[2 * n]
    small = ImageFolderDataset(out, max_size=3)
    assert len(small) == 3 and len(ImageFolderDataset(out, max_size=3, xflip=True)) == 6


def test_zip_and_rejected_ignored(prepared, tmp_path):
    out, report = prepared
    (out / "rejected").mkdir()
    Image.new("RGB", (32, 32)).save(out / "rejected/x.png")
    assert len(ImageFolderDataset(out)) == report.count
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(out.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(out).as_posix())
    ds = ImageFolderDataset(archive, resolution=32)
    folder = ImageFolderDataset(out)
    assert len(ds) == report.count and ds.label_dim == 2
    assert torch.equal(ds[3][0], folder[3][0]) and torch.equal(ds[3][1], folder[3][1])
    import pickle
    clone = pickle.loads(pickle.dumps(ds))   # DataLoader workers
    assert torch.equal(clone[1][0], ds[1][0])


def test_plain_folder_and_errors(tmp_path):
    plain = tmp_path / "plain"
    (plain / "sub").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (16, 16), (i, 0, 0)).save(plain / f"{i}.png")
    Image.new("RGB", (16, 16)).save(plain / "sub/x.jpg")
    ds = ImageFolderDataset(plain)
    assert len(ds) == 4 and ds.resolution == 16 and not ds.has_labels
    with pytest.raises(StudioError, match="not 32x32"):
        ImageFolderDataset(plain, resolution=32)
    Image.new("RGB", (32, 32)).save(plain / "big.png")
    with pytest.raises(StudioError, match="differ in size"):
        ImageFolderDataset(plain)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StudioError, match="no images"):
        ImageFolderDataset(empty)
    with pytest.raises(StudioError, match="does not exist"):
        ImageFolderDataset(tmp_path / "missing")
    odd = tmp_path / "odd"
    odd.mkdir()
    Image.new("RGB", (20, 20)).save(odd / "a.png")
    with pytest.raises(StudioError, match="power-of-two"):
        ImageFolderDataset(odd)


def test_dataset_tool_layout_without_studio_metadata(prepared):
    out, report = prepared
    (out / "studio-dataset.json").unlink()
    ds = ImageFolderDataset(out)
    assert len(ds) == report.count and ds.label_dim == 2 and ds.resolution == 32
    labels = json.loads((out / "dataset.json").read_text())["labels"]
    assert ds[0][1].argmax().item() == labels[0][1]


@pytest.mark.parametrize("label, message", [
    (-1, "has the class -1; classes are numbered from 0"),            # used to pick the last class silently
    (10**9, "has the class 1000000000"),                              # used to ask for gigabytes
    ([[0.5]], "labels must be class numbers or vectors"),              # nested one level too deep
    ([1e40, 0.0], "at most 100,000 finite numbers"),                   # overflows to inf
    ({"class": 1}, "labels must be class numbers or vectors"),
])
def test_labels_that_cannot_be_right_get_a_sentence(prepared, label, message):
    out, _ = prepared
    (out / "studio-dataset.json").unlink()
    data = json.loads((out / "dataset.json").read_text())
    data["labels"][0][1] = label
    if isinstance(label, list):   # vectors: every image gets one of the same length
        data["labels"] = [[name, label] for name, _ in data["labels"]]
    (out / "dataset.json").write_text(json.dumps(data))
    with pytest.raises(StudioError, match=message):
        ImageFolderDataset(out)


def test_a_zip_bombed_dataset_is_refused_before_it_inflates(tmp_path: Path) -> None:
    """A few hundred KB whose one picture unpacks to 300 MB (the issue's was 6.2 GB): refused from the
    size the zip declares; and one that lies about its size is stopped while it inflates."""
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("img00000000.png", bytes(300 * 2**20))
    assert bomb.stat().st_size < 2**20
    with pytest.raises(StudioError, match="would unpack to 300 MB .* zip bomb"):
        ImageFolderDataset(bomb)

    # the same member with its declared size forged to 1 KB in both headers
    data = bytearray(bomb.read_bytes())
    size = (300 * 2**20).to_bytes(4, "little")
    assert data.count(size) == 2
    data = data.replace(size, (1024).to_bytes(4, "little"))
    liar = tmp_path / "liar.zip"
    liar.write_bytes(bytes(data))
    with pytest.raises(StudioError, match="unpacks to more than 256 MB|Bad|CRC|cannot read"):
        ImageFolderDataset(liar)
