"""Training runs: one run-folder scheme for ``studio train`` and the Train tab.

A run lives in ``RUNS/NNNNN-<dataset>-<preset>`` (numbered like NVIDIA's, so they sort; the
scheme itself is :mod:`studio.training.runs`'s, since the trainer and the default-model
release find runs too). Here is what both front ends do with runs:

* **new** - :func:`resolve_options` turns the options given (command-line flags, or the Train
  tab's form) into validated :class:`~studio.training.options.TrainingOptions` in a new run
  folder, or, with ``resume="latest"``, in the newest run that has a snapshot;
* **list / read** - :func:`list_runs` and :func:`read_run` say what a folder holds (saved
  options, the last stats line, the newest snapshot);
* **resume** - :func:`resume_options` continues a chosen run with its own options;
* **stop** - :func:`request_stop` asks a running worker to finish its step and write a snapshot;
* **launch** - :func:`worker_command` / :func:`torchrun_command` and :func:`worker_env` start the
  worker process (``python -m studio.training``), which reports JSON lines on stdout.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from studio.core import paths
from studio.core.atomic import atomic_write_text
from studio.training.options import OPTIONS_FILE, TrainingOptions
from studio.training.runs import (METRICS_FILE, REQUESTED_OPTIONS_FILE, RUN_RE, STATS_FILE, STOP_FILE,
                                  find_latest_snapshot, latest_run_dir, new_run_dir)


def default_runs_dir() -> Path:
    """Where the Train tab keeps its runs (``studio train`` takes ``--outdir``)."""
    folder = paths.data_dir() / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class RunInfo:
    """What a run folder says about its run."""

    folder: Path
    options: dict[str, Any]
    stats: dict[str, Any] | None
    snapshot: Path | None

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def kimg(self) -> float:
        """Thousands of images shown so far (from the last stats line)."""
        return float((self.stats or {}).get("kimg", 0.0))


def read_stats(folder: str | os.PathLike[str], name: str = STATS_FILE) -> list[dict[str, Any]]:
    """Every readable line of the run's ``stats.jsonl`` (or ``metrics.jsonl``); a torn line is skipped."""
    rows = []
    try:
        lines = (Path(folder) / name).read_text(encoding="utf-8").splitlines()
    except OSError:
        return rows
    for line in lines:
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def last_stats(folder: str | os.PathLike[str], tail_bytes: int = 1 << 16) -> dict[str, Any] | None:
    """The newest readable line of the run's ``stats.jsonl``, reading only the file's end."""
    try:
        with open(Path(folder) / STATS_FILE, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - tail_bytes))
            lines = f.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            row = json.loads(line)
        except ValueError:
            continue            # a torn last line, or the first, cut by the seek
        if isinstance(row, dict):
            return row
    return None


def read_metrics(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The run's FD-CLIP / KID-CLIP measurements (``metrics.jsonl``), oldest first."""
    return read_stats(folder, METRICS_FILE)


def read_run(folder: str | os.PathLike[str]) -> RunInfo:
    """Options, the last stats line and the newest snapshot of the run in ``folder``."""
    folder = Path(folder)
    try:
        options = json.loads((folder / OPTIONS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        options = {}
    return RunInfo(folder, options if isinstance(options, dict) else {}, last_stats(folder),
                   find_latest_snapshot(folder))


def list_runs(outdir: str | os.PathLike[str]) -> list[RunInfo]:
    """The runs in ``outdir``, the most recently active first (numbered folders, and any other
    folder a run wrote, such as the date-named runs of earlier versions)."""
    outdir = Path(outdir).expanduser()
    if not outdir.is_dir():
        return []
    folders = [e for e in outdir.iterdir() if e.is_dir() and (RUN_RE.match(e.name) or (e / OPTIONS_FILE).is_file()
                                                            or (e / REQUESTED_OPTIONS_FILE).is_file())]
    return [read_run(folder) for folder in sorted(folders, key=lambda f: (f.stat().st_mtime, f.name), reverse=True)]


def resolve_options(overrides: Mapping[str, Any], outdir: str | os.PathLike[str]) -> TrainingOptions:
    """Options for a new run (or the newest one, with ``resume='latest'``) in ``outdir``.

    ``overrides`` holds only what was given (None values are ignored). ``resume='latest'``
    continues the newest run in ``outdir`` with its saved options and then the overrides;
    anything else starts a new run folder ``NNNNN-<dataset>-<preset>``.
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


def resume_options(run: RunInfo, kimg: int | None = None) -> TrainingOptions:
    """The options that continue ``run`` from its newest snapshot (for at least ``kimg`` kimg)."""
    if not run.options:
        raise ValueError(f"{run.name} has no saved options, so it cannot be resumed")
    options = TrainingOptions.from_dict({**run.options, "run_dir": str(run.folder), "resume": "latest"})
    if kimg is not None:
        options.kimg = max(float(kimg), float(options.kimg or 0))
    options.validate()
    return options


def write_requested(options: TrainingOptions) -> Path:
    """Write the options a worker is asked to run with into its run folder; returns the file."""
    run_dir = Path(options.run_dir)
    (run_dir / STOP_FILE).unlink(missing_ok=True)
    target = run_dir / REQUESTED_OPTIONS_FILE
    atomic_write_text(target, json.dumps(options.to_dict(), indent=2) + "\n")
    return target


def request_stop(run_dir: str | os.PathLike[str], reason: str = "stop requested by the studio") -> None:
    """Ask the worker training in ``run_dir`` to finish its step, write a snapshot and stop."""
    (Path(run_dir) / STOP_FILE).write_text(reason + "\n", encoding="utf-8")


def worker_command(run_dir: str | os.PathLike[str], options_file: str | os.PathLike[str] | None = None) -> list[str]:
    """The command that runs one training worker for ``run_dir`` (the Train tab's QProcess)."""
    command = [sys.executable, "-m", "studio.training", "--run-dir", str(run_dir)]
    if options_file is not None:
        command += ["--options-json", str(options_file)]
    return command


def torchrun_command(run_dir: str | os.PathLike[str], gpus: int) -> list[str]:
    """The command that runs the worker on ``gpus`` processes of this machine."""
    torchrun = shutil.which("torchrun")
    prefix = [torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"]
    return prefix + ["--standalone", f"--nproc_per_node={gpus}", "-m", "studio.training",
                     "--run-dir", str(run_dir)]


def worker_env() -> dict[str, str]:
    """Environment for a worker: unbuffered output, the studio importable."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    root = str(paths.project_root())
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env
