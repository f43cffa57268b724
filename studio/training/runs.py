"""The run-folder scheme: where a run lives and what its files are called (no torch).

A run lives in ``RUNS/NNNNN-<dataset>-<preset>``, numbered like NVIDIA's so they sort; in it the
worker writes ``training_options.json``, ``stats.jsonl`` (a line per tick), ``metrics.jsonl`` and
snapshots ``network-snapshot-<kimg>.safetensors``, and a ``STOP`` file asks it to stop.
``latest`` means the newest run folder in RUNS that holds a snapshot. What the front ends do with
runs (new, list, read, resume, stop, launch) is :mod:`studio.app.runs`.
"""

from __future__ import annotations

import re
from pathlib import Path

from studio.core.errors import StudioError

RUN_RE = re.compile(r"^(\d{5})-")
SNAPSHOT_RE = re.compile(r"^network-snapshot-(\d+)\.safetensors$")

#: A file of this name in a run folder asks its worker to stop after the current step.
STOP_FILE = "STOP"

#: The per-tick statistics the worker appends to, one JSON object a line.
STATS_FILE = "stats.jsonl"

#: FD-CLIP / KID-CLIP at snapshots, one JSON object a line.
METRICS_FILE = "metrics.jsonl"

#: The options the Train tab asked for, passed to the worker with ``--options-json``.
REQUESTED_OPTIONS_FILE = "requested-options.json"


def snapshot_name(nimg: int) -> str:
    """``network-snapshot-000040.safetensors`` for 40 kimg (whole kimg, rounded down)."""
    return f"network-snapshot-{nimg // 1000:06d}.safetensors"


def find_latest_snapshot(run_dir: str | Path) -> Path | None:
    """The newest complete snapshot in ``run_dir`` (highest kimg, then newest file), or None.

    Half-written temporary files (hidden ``.network-snapshot-*.tmp``) never match.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return None
    found = []
    for entry in run_dir.iterdir():
        m = SNAPSHOT_RE.match(entry.name)
        if m and entry.is_file() and entry.stat().st_size > 0:
            found.append((int(m.group(1)), entry.stat().st_mtime_ns, entry))
    return max(found)[2] if found else None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "-", text).strip("-")[:40] or "run"


def new_run_dir(outdir: str | Path, data: str | Path, preset: str) -> Path:
    """Create and return ``OUTDIR/NNNNN-<dataset name>-<preset>`` with the next free number."""
    outdir = Path(outdir).expanduser()
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        numbers = [int(m.group(1)) for e in outdir.iterdir() if (m := RUN_RE.match(e.name)) and e.is_dir()]
        number = max(numbers, default=-1) + 1
        run_dir = outdir / f"{number:05d}-{_slug(Path(data).name)}-{_slug(preset)}"
        run_dir.mkdir()
    except OSError as exc:
        raise StudioError(f"cannot create a run folder in {outdir}: {exc.strerror or exc}; "
                          "choose another --outdir") from None
    return run_dir


def latest_run_dir(outdir: str | Path) -> Path | None:
    """The highest-numbered run folder in OUTDIR that holds a snapshot, or None."""
    outdir = Path(outdir).expanduser()
    if not outdir.is_dir():
        return None
    runs = sorted((e for e in outdir.iterdir() if RUN_RE.match(e.name) and e.is_dir()), reverse=True)
    for run in runs:
        if find_latest_snapshot(run) is not None:
            return run
    if find_latest_snapshot(outdir) is not None:  # OUTDIR is itself a run folder
        return outdir
    return None


__all__ = ["RUN_RE", "SNAPSHOT_RE", "STOP_FILE", "STATS_FILE", "METRICS_FILE", "REQUESTED_OPTIONS_FILE", "snapshot_name",
           "find_latest_snapshot", "new_run_dir", "latest_run_dir"]
