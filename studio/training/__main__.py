"""The training worker process: ``python -m studio.training --run-dir DIR [--options-json FILE]``.

The GUI's Train tab (through QProcess) and ``studio train --gpus N`` (through torchrun) start
this. It runs :func:`studio.training.train` and reports on stdout, one JSON object per
line, flushed at once::

    {"event": "log" | "progress" | "preview" | "snapshot" | "metric" | "error" | "done", ...}

(fields per event in :mod:`studio.training.trainer`; ``error`` has ``message``, ``kind`` - the
exception's class name - and ``traceback``, empty for errors a user can fix).

Options come from ``--options-json`` or else ``DIR/training_options.json``; ``--resume``
overrides where to start (``latest`` continues the run in DIR). SIGINT, SIGTERM or a
``DIR/STOP`` file stop gracefully: the current step finishes, a snapshot is written and
``done`` is emitted with ``reason: "stopped"``. Exit status: 0 finished or stopped, 1 error.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import traceback
from pathlib import Path
from typing import Sequence


def _emitter(stream=None):
    stream = stream or sys.stdout

    def emit(event: dict) -> None:
        stream.write(json.dumps(event, default=str) + "\n")
        stream.flush()

    return emit


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.training",
                                     description="Training worker: reports progress as JSON lines on stdout.")
    parser.add_argument("--run-dir", required=True, help="the run folder")
    parser.add_argument("--options-json", default=None, help="training options (default: RUN/training_options.json)")
    parser.add_argument("--resume", default=None, help="'latest' or a network file (overrides the options)")
    args = parser.parse_args(argv)

    emit = _emitter()
    rank = 0
    clean_exit = False
    try:
        import torch

        from studio.training.options import TrainingOptions
        from studio.training.trainer import train

        distributed = _init_distributed()
        if distributed:
            rank = torch.distributed.get_rank()
        if rank != 0:
            emit = lambda event: None  # noqa: E731 - only rank 0 reports

        run_dir = Path(args.run_dir).expanduser()
        source = Path(args.options_json) if args.options_json else run_dir / "training_options.json"
        options = TrainingOptions.load(source)
        options.run_dir = str(run_dir)
        if args.resume is not None:
            options.resume = args.resume

        stop = {"requested": False}

        def on_signal(signum, frame):  # noqa: ARG001
            if not stop["requested"]:
                stop["requested"] = True
                emit({"event": "log", "level": "info",
                      "message": f"stopping after this step ({signal.Signals(signum).name})"})

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        train(options, abort_fn=lambda: stop["requested"], event_fn=emit)
        clean_exit = True
        return 0
    except Exception as exc:  # noqa: BLE001 - every failure becomes an error event
        user_error = isinstance(exc, ValueError) or _is_studio_error(exc)
        emit({"event": "error", "message": str(exc) or type(exc).__name__, "kind": type(exc).__name__,
              "traceback": "" if user_error else traceback.format_exc()})
        return 1
    finally:
        try:
            import torch

            if torch.distributed.is_available() and torch.distributed.is_initialized():
                if clean_exit:
                    torch.distributed.barrier()   # leave together: gloo aborts if a peer vanishes mid-call
                torch.distributed.destroy_process_group()
        except Exception:  # noqa: BLE001
            pass


def _is_studio_error(exc: BaseException) -> bool:
    from studio.core.errors import StudioError

    return isinstance(exc, StudioError)


def _init_distributed() -> bool:
    """Join the process group when started by torchrun (WORLD_SIZE > 1): NCCL on GPUs, else gloo."""
    import os

    import torch

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    backend = "nccl" if torch.cuda.is_available() and torch.distributed.is_nccl_available() else "gloo"
    torch.distributed.init_process_group(backend=backend)
    return True


if __name__ == "__main__":
    sys.exit(main())
