"""Run studio commands in child processes with a time and a memory limit, quickly.

Starting Python and importing torch costs seconds per command, too much for hundreds of hostile
inputs. This server imports the studio once, then forks one child per command: the child is a fresh
process (its crash, hang or memory blow-up cannot touch the server or the tests) that runs
``studio.cli.main`` exactly as ``python -m studio`` does, with

* its address space capped at what the server had plus ``memory_mb`` (RLIMIT_AS), so a file that
  makes the studio allocate more fails there instead of exhausting the machine;
* a wall-clock limit: a child still running after ``seconds`` is killed and reported as a hang;
* stdout and stderr written to files the caller reads.

Protocol (one JSON object per line on stdin, one per line on stdout)::

    {"argv": [...], "cwd": "...", "seconds": 10, "memory_mb": 1024, "out": "/x/out", "err": "/x/err"}
    -> {"status": 2, "signal": null, "timed_out": false, "seconds": 0.4, "peak_mb": 35.2}

``peak_mb`` is the child's largest resident size beyond what it shared with the server at the fork.
Run it with the interpreter and ``PYTHONPATH`` of the studio to test (an older checkout works too).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
import traceback

#: Exit status of a child whose command raised past ``studio.cli.main`` (a traceback).
UNCAUGHT = 99


def _vm_size_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _child(request: dict) -> None:
    """In the forked child: limits, redirections, then the command. Never returns."""
    try:
        limit = _vm_size_bytes() + request["memory_mb"] * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.chdir(request["cwd"])
        for fd, name in ((1, request["out"]), (2, request["err"])):
            handle = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(handle, fd)
            os.close(handle)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        os.environ.update(request.get("env", {}))
        from studio.cli import main

        code = main(request["argv"])
    except SystemExit as exc:           # argparse's usage errors
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except BaseException:
        traceback.print_exc()
        code = UNCAUGHT
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code if isinstance(code, int) else 0)


def _run(request: dict) -> dict:
    shared_kb = _rss_kb()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(request)
    deadline = started + request["seconds"]
    timed_out = False
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            done, status, usage = os.wait4(pid, 0)
            timed_out = True
            break
        time.sleep(0.01)
    return {
        "status": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "timed_out": timed_out,
        "seconds": round(time.monotonic() - started, 3),
        "peak_mb": round(max(0, usage.ru_maxrss - shared_kb) / 1024, 1),
    }


def serve() -> None:
    # imported once here, shared by every child (which then starts in milliseconds, not seconds)
    import torch

    import studio.cli
    import studio.gan.formats
    import studio.imaging.metadata

    torch.set_num_threads(1)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(_run(json.loads(line))), flush=True)


if __name__ == "__main__":
    serve()
