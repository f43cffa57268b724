"""The run-folder scheme: ``RUNS/NNNNN-<dataset>-<preset>``, numbered like NVIDIA's so they sort.

``latest`` means the newest run folder in RUNS that holds a snapshot. What the front ends do
with runs (new, list, read, resume, stop, launch) is :mod:`studio.app.runs`.
"""

from __future__ import annotations

import re
from pathlib import Path

from studio.training.snapshots import find_latest_snapshot

RUN_RE = re.compile(r"^(\d{5})-")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "-", text).strip("-")[:40] or "run"


def new_run_dir(outdir: str | Path, data: str | Path, preset: str) -> Path:
    """Create and return ``OUTDIR/NNNNN-<dataset name>-<preset>`` with the next free number."""
    outdir = Path(outdir).expanduser()
    outdir.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for e in outdir.iterdir() if (m := RUN_RE.match(e.name)) and e.is_dir()]
    number = max(numbers, default=-1) + 1
    run_dir = outdir / f"{number:05d}-{_slug(Path(data).name)}-{_slug(preset)}"
    run_dir.mkdir()
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


__all__ = ["RUN_RE", "new_run_dir", "latest_run_dir"]
