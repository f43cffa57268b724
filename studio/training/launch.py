"""Run folders and launching: what ``studio train`` (and the Train tab) need around :func:`train`.

A run lives in ``RUNS/NNNNN-<dataset>-<preset>`` (numbered like NVIDIA's, so they sort). Resuming
``latest`` picks the newest run folder in RUNS that holds a snapshot and continues there with its
own ``training_options.json``; the options given explicitly override the saved ones.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any, Mapping

from studio.training.options import OPTIONS_FILE, TrainingOptions
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


def resolve_options(overrides: Mapping[str, Any], outdir: str | Path) -> TrainingOptions:
    """Options for ``studio train``: ``overrides`` holds only what was given on the command line.

    ``resume='latest'`` continues the newest run in OUTDIR (its saved options, then the
    overrides); anything else starts a new run folder.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    known = {f.name for f in fields(TrainingOptions)}
    unknown = set(given) - known
    if unknown:
        raise ValueError(f"unknown training options: {', '.join(sorted(unknown))}")
    if given.get("resume") == "latest":
        run = latest_run_dir(outdir)
        if run is not None:
            saved = run / OPTIONS_FILE
            base = TrainingOptions.load(saved).to_dict() if saved.is_file() else {}
            base.update(given)
            base["run_dir"] = str(run)
            if not base.get("data"):
                raise ValueError("--data is needed (the run folder has no saved options)")
            options = TrainingOptions.from_dict(base)
            options.validate()
            return options
        given.pop("resume")  # nothing to resume: a fresh run
    if not given.get("data"):
        raise ValueError("--data is needed: a prepared dataset folder (`studio prepare`)")
    options = TrainingOptions.from_dict(given)
    options.validate()
    options.run_dir = str(new_run_dir(outdir, options.data, options.preset))
    return options


def torchrun_command(run_dir: str | Path, gpus: int) -> list[str]:
    """The command that runs the worker on ``gpus`` processes of this machine."""
    torchrun = shutil.which("torchrun")
    prefix = [torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"]
    return prefix + ["--standalone", f"--nproc_per_node={gpus}", "-m", "studio.training",
                     "--run-dir", str(run_dir)]


def worker_env() -> dict[str, str]:
    """Environment for a worker: unbuffered output, the studio importable."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


__all__ = ["new_run_dir", "latest_run_dir", "resolve_options", "torchrun_command", "worker_env"]
