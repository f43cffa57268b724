"""Inputs that would hang or exhaust the studio are refused with one sentence."""

from __future__ import annotations

import os
import threading

import pytest

from studio.cli import main
from studio.core.errors import ModelFormatError
from studio.evolve.ga import EvolveConfig
from studio.gan.formats import detect_format
from studio.gan.interpolate import frame_count
from studio.training.options import TrainingOptions


def test_a_fifo_named_as_a_model_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.pkl"
    os.mkfifo(fifo)
    outcome: list = []
    reader = threading.Thread(target=lambda: outcome.append(pytest.raises(ModelFormatError, detect_format, fifo)),
                              daemon=True)
    reader.start()
    reader.join(5)
    assert outcome and "not a regular file" in str(outcome[0].value)


@pytest.mark.parametrize("field", ["gamma", "clip_d", "lr", "target"])
def test_training_numbers_must_be_finite(field):
    options = TrainingOptions(data="/d", **{field: float("nan")})
    with pytest.raises(ValueError, match=f"{field} must be a finite number"):
        options.validate()


def test_counts_a_typo_could_blow_up_are_bounded(tmp_path, capsys):
    with pytest.raises(ValueError, match="at most 120,000 frames"):
        frame_count(2, 1_000_000_000)
    with pytest.raises(ValueError, match="'population' must be 1 to 100000"):
        EvolveConfig(population=1_000_000_000)
    assert main(["interpolate", "--seeds", "1,2", "--frames", "1000000000", "--out", str(tmp_path / "x.gif")]) == 2
    assert "at most 120,000 frames" in capsys.readouterr().err


def test_an_export_that_cannot_fit_in_memory_is_refused_before_allocating(tmp_path, capsys, monkeypatch):
    from studio.core import memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 2 * 2**30)          # a machine with 2 GB free
    assert main(["export", "--seed", "1", "--size", "100000x100000", "--out", str(tmp_path / "huge.png")]) == 2
    err = capsys.readouterr().err
    assert "needs about" in err and "only 2.0 GB of memory is free" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("change, message", [
    ({"mapping_layers": 1_000_000}, "mapping_layers must be from 0 to 64"),
    ({"img_resolution": 65536}, "img_resolution must be from 4 to 4,096"),
    ({"z_dim": 5_000_000}, "z_dim must be from 0 to 8,192"),
    ({"channel_max": 4096, "channel_base": 4096 * 4096, "img_resolution": 4096}, "M parameters"),
    ({"channels": {"4": 0, "8": 8}}, "channels at 4 px must be from 1"),
    ({"conv_clamp": "high"}, "conv_clamp must be a number"),
])
def test_a_network_file_declaring_impossible_sizes_is_refused_before_allocating(tmp_path, change, message):
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    from studio.gan.formats import load_network
    from studio.gan.formats.native import save_native
    from studio.gan.networks import GeneratorConfig, make_generator

    G = make_generator(GeneratorConfig(z_dim=8, w_dim=8, img_resolution=8, mapping_layers=1, channel_base=64,
                                       channel_max=8))
    honest = tmp_path / "honest.safetensors"
    save_native(honest, G)
    with safe_open(str(honest), framework="pt") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    config = json.loads(meta["generator_config"])
    config.update(change)
    meta["generator_config"] = json.dumps(config)
    forged = tmp_path / "forged.safetensors"
    save_file(tensors, str(forged), metadata=meta)
    with pytest.raises(ModelFormatError, match=message):
        load_network(forged)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_deeply_nested_or_mistyped_files_get_a_sentence_not_a_traceback(tmp_path, capsys):
    import struct
    import zlib

    from safetensors import safe_open
    from safetensors.torch import save_file

    from studio.gan.formats import load_network
    from studio.gan.formats.native import save_native
    from studio.gan.networks import GeneratorConfig, make_generator

    recipe = tmp_path / "deep.json"                        # a recipe nested 100,000 deep
    recipe.write_text('{"studio_recipe": 1, "seed": ' + _deep(100_000) + "}")
    assert main(["export", str(recipe), "--out", str(tmp_path / "x.png")]) == 2
    assert "nested too deeply" in capsys.readouterr().err

    G = make_generator(GeneratorConfig(z_dim=8, w_dim=8, img_resolution=8, mapping_layers=1, channel_base=64,
                                       channel_max=8))
    save_native(tmp_path / "ok.safetensors", G)
    with safe_open(str(tmp_path / "ok.safetensors"), framework="pt") as f:
        meta, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    for key, value, message in (("provenance", "[1, 2]", "provenance is list"),
                                ("training_state", _deep(50_000), "nested too deeply")):
        forged = tmp_path / f"{key}.safetensors"
        save_file(tensors, str(forged), metadata={**meta, key: value})
        with pytest.raises(ModelFormatError, match=message):
            load_network(forged)

    width = height = 20_000                                # 400 M pixels declared in 8-bit PNG headers
    row = b"\x00" + b"\x00" * width * 3
    raw = b"".join([row] * 4)                              # a few rows are enough to declare the size
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    assert main(["export", str(bomb), "--out", str(tmp_path / "y.png")]) == 2
    err = capsys.readouterr().err
    assert "decompression bomb" in err and "Traceback" not in err


def test_free_memory_counts_the_processs_own_limit():
    """Under ``ulimit -v`` (a sandbox, a batch system) the machine's free memory is not what the studio
    may use: an export must be refused by the limit's headroom, not die with a MemoryError."""
    import subprocess
    import sys

    code = ("import resource\nfrom studio.core.memory import available_bytes\n"
            "unlimited = available_bytes()\n"
            "vm = next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmSize:'))\n"
            "resource.setrlimit(resource.RLIMIT_AS, (vm + 300 * 2**20, resource.RLIM_INFINITY))\n"
            "print(unlimited, available_bytes())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    unlimited, limited = map(int, out.split())
    assert limited <= 300 * 2**20 < unlimited
