"""Training runs: one folder scheme and one set of verbs for `studio train` and the Train tab."""

from __future__ import annotations

import json
import os
import sys

import pytest

from studio.app import runs
from studio.training.options import OPTIONS_FILE


def _saved_run(folder, **options):
    folder.mkdir(parents=True)
    (folder / OPTIONS_FILE).write_text(json.dumps({"data": "/data/abstract", "kimg": 10, **options}))
    return folder


def test_new_runs_are_numbered_with_dataset_and_preset(tmp_path):
    first = runs.resolve_options({"data": "/data/my paintings", "preset": "small", "kimg": 5}, tmp_path)
    second = runs.resolve_options({"data": "/data/my paintings", "preset": "small", "kimg": 5}, tmp_path)
    assert [p.split("/")[-1] for p in (first.run_dir, second.run_dir)] == \
        ["00000-my-paintings-small", "00001-my-paintings-small"]


def test_bad_options_are_refused_with_a_reason(tmp_path):
    with pytest.raises(ValueError, match="--data is needed"):
        runs.resolve_options({"kimg": 5}, tmp_path)
    with pytest.raises(ValueError, match="batch must be at least 1"):
        runs.resolve_options({"data": "/d", "batch": 0}, tmp_path)
    with pytest.raises(ValueError, match="unknown training options: colour"):
        runs.resolve_options({"data": "/d", "colour": "red"}, tmp_path)
    assert list(tmp_path.iterdir()) == []                       # nothing made for a refused run


def test_list_read_and_resume(tmp_path):
    old = _saved_run(tmp_path / "00000-abstract-small", preset="small")
    (old / "stats.jsonl").write_text(json.dumps({"kimg": 1.5}) + "\n" + json.dumps({"kimg": 3.25}) + "\n{torn")
    (old / "network-snapshot-000003.safetensors").write_bytes(b"x")
    newer = _saved_run(tmp_path / "00001-abstract-small", preset="small")
    older = _saved_run(tmp_path / "20240105-101010-abstract")   # a run of an earlier version
    os.utime(older, (1, 1))
    os.utime(newer, (10 ** 9, 10 ** 9))
    os.utime(old, (2 * 10 ** 9, 2 * 10 ** 9))                    # the run that trained last comes first
    (tmp_path / "notes").mkdir()                                 # not a run
    listed = runs.list_runs(tmp_path)
    assert [r.name for r in listed] == ["00000-abstract-small", "00001-abstract-small", "20240105-101010-abstract"]
    info = runs.read_run(old)
    assert info.kimg == 3.25 and info.snapshot.name == "network-snapshot-000003.safetensors"
    assert [row["kimg"] for row in runs.read_stats(old)] == [1.5, 3.25]
    options = runs.resume_options(info, kimg=20)
    assert options.resume == "latest" and options.run_dir == str(old) and options.kimg == 20
    assert runs.resume_options(info, kimg=4).kimg == 10         # never shorter than the run asked for
    latest = runs.resolve_options({"resume": "latest", "kimg": 12}, tmp_path)
    assert latest.run_dir == str(old) and latest.kimg == 12     # the newest run that has a snapshot


def test_stop_and_launch(tmp_path):
    options = runs.resolve_options({"data": "/data/abstract", "kimg": 5}, tmp_path)
    runs.request_stop(options.run_dir)
    requested = runs.write_requested(options)                   # a new start clears an old stop request
    assert not (tmp_path / options.run_dir / runs.STOP_FILE).exists()
    assert json.loads(requested.read_text())["kimg"] == 5
    command = runs.worker_command(options.run_dir, requested)
    assert command[:3] == [sys.executable, "-m", "studio.training"] and command[-2:] == ["--options-json", str(requested)]
    runs.request_stop(options.run_dir, "studio closed")
    assert (tmp_path / options.run_dir / runs.STOP_FILE).read_text() == "studio closed\n"
