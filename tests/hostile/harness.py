"""Run hostile commands through :mod:`tests.hostile.forkserver` and sort what happened into kinds.

The kinds, from good to bad:

* ``refused`` - exit status 1 or 2 and one line on stderr: the sentence the studio owes;
* ``accepted`` - exit status 0 (right for a mutation that did not matter, wrong for a hostile case);
* ``noisy`` - exit status 1 or 2 but more than one line on stderr;
* ``traceback`` - a Python traceback reached the user;
* ``memory`` - the command ran out of its memory allowance;
* ``hang`` - still running at the time limit (killed);
* ``crash`` - killed by a signal (a segfault);
* ``payload`` - something in a file was executed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: What a hostile command may take: seconds of wall time and MiB of memory beyond the studio's own.
SECONDS = 10
MEMORY_MB = 1024

KINDS = ("refused", "accepted", "noisy", "traceback", "memory", "hang", "crash", "payload")
_SERVER = Path(__file__).with_name("forkserver.py")


@dataclass
class Outcome:
    """How one command ended."""

    kind: str
    status: int | None
    seconds: float
    peak_mb: float
    stderr: str

    def describe(self) -> str:
        last = self.stderr.strip().splitlines()[-1] if self.stderr.strip() else ""
        return f"{self.kind} (status {self.status}, {self.seconds:.1f} s, +{self.peak_mb:.0f} MB): {last[:300]}"


class Studio:
    """A fork server for one studio source tree (``root``: the folder holding ``studio/``)."""

    def __init__(self, workdir: Path, root: Path | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        root = Path(root) if root is not None else Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": str(root), "STUDIO_HOME": str(self.workdir / "home"),
               "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("STUDIO_DEBUG", None)
        self.process = subprocess.Popen([sys.executable, str(_SERVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        env=env, text=True, cwd=self.workdir)
        hello = self.process.stdout.readline()
        if not hello.strip():
            raise RuntimeError("the fork server did not start")
        self.count = 0

    def run(self, argv: list[str], *, marker: Path | None = None, seconds: float = SECONDS,
            memory_mb: int = MEMORY_MB) -> Outcome:
        self.count += 1
        out, err = self.workdir / f"{self.count}.out", self.workdir / f"{self.count}.err"
        request = {"argv": argv, "cwd": str(self.workdir), "seconds": seconds, "memory_mb": memory_mb,
                   "out": str(out), "err": str(err)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        stderr = err.read_text(errors="replace") if err.exists() else ""
        for path in (out, err):
            path.unlink(missing_ok=True)
        return Outcome(_kind(answer, stderr, marker), answer["status"], answer["seconds"], answer["peak_mb"], stderr)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=30)

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _kind(answer: dict, stderr: str, marker: Path | None) -> str:
    if marker is not None and marker.exists():
        return "payload"
    if answer["timed_out"]:
        return "hang"
    if answer["signal"] is not None:
        return "crash"
    if "MemoryError" in stderr or "bad_alloc" in stderr or "Cannot allocate memory" in stderr:
        return "memory"
    if "Traceback (most recent call last)" in stderr or answer["status"] == 99:
        return "traceback"
    if answer["status"] == 0:
        return "accepted"
    lines = [line for line in stderr.splitlines() if line.strip()]
    return "refused" if answer["status"] in (1, 2) and len(lines) == 1 else "noisy"
