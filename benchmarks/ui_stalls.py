"""Does the window stay responsive while the inference thread renders?

Opens the real main window (offscreen unless DISPLAY is set) on a random-weight 256 px
StyleGAN2 (the paper256 configuration), shows a 3 x 7 seed grid, then drags the truncation
slider programmatically for 10 s (a new value every 33 ms, like a hand on a mouse) while the
grid re-renders. A 5 ms heartbeat timer on the UI thread records how late each beat fires:
those are the event-loop stalls the artist would feel.

Prints the maximum and 99th-percentile stall (target: max < 50 ms), how many slider moves
there were, how many grid renders ran and how many queued renders were coalesced away.

    python benchmarks/ui_stalls.py [--seconds 10] [--resolution 256] [--default]

``--default`` uses the bundled default model (128 px, conditional) instead.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

HEARTBEAT_MS = 5
MOVE_MS = 33
TARGET_MAX_STALL_MS = 50.0


def make_model(folder: Path, resolution: int) -> Path:
    import torch

    from studio.gan.formats.native import save_native
    from studio.gan.networks import GeneratorConfig, make_generator

    torch.manual_seed(0)
    base = 16384 if resolution <= 256 else 32768
    G = make_generator(GeneratorConfig(img_resolution=resolution, channel_base=base, conv_clamp=256))
    path = folder / f"random{resolution}.safetensors"
    save_native(path, G)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--default", action="store_true", help="the bundled default model")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    os.environ["STUDIO_HOME"] = str(tmp / "home")
    model = "default" if args.default else make_model(tmp, args.resolution)
    # the model is built before the window; drop torch from this thread's view of the clock
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from studio.ui.main_window import MainWindow
    from studio.ui.session import StudioSession

    app = QApplication.instance() or QApplication(sys.argv[:1])
    session = StudioSession()
    window = MainWindow(session)
    window.show()
    session.client.start()
    session.open_model(str(model))
    deadline = time.monotonic() + 120
    while session.model is None and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    if session.model is None:
        print("the model did not open", file=sys.stderr)
        return 1
    session.client.wait_idle(120)
    worker = session.client.worker
    explore = window.explore
    completed0, coalesced0 = worker.completed, worker.coalesced

    stalls: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def beat() -> None:
        now = clock.nsecsElapsed()
        stalls.append(max(0.0, (now - last[0]) / 1e6 - HEARTBEAT_MS))
        last[0] = now

    moves = [0]
    start = time.monotonic()

    def move() -> None:
        t = time.monotonic() - start
        explore.psi.set_value(round(0.9 + 0.6 * math.sin(t * 1.3), 2))
        moves[0] += 1

    heart, mover = QTimer(), QTimer()
    heart.setTimerType(heart.timerType().PreciseTimer)
    heart.timeout.connect(beat)
    mover.timeout.connect(move)
    heart.start(HEARTBEAT_MS)
    mover.start(MOVE_MS)
    while time.monotonic() - start < args.seconds:
        app.processEvents()
        time.sleep(0.001)
    mover.stop()
    heart.stop()
    renders = worker.completed - completed0
    session.client.wait_idle(120)

    stalls.sort()
    p99 = stalls[int(0.99 * (len(stalls) - 1))] if stalls else 0.0
    worst = stalls[-1] if stalls else 0.0
    print(f"UI responsiveness while rendering a 3x7 grid of a {session.model['resolution']} px{' default' if args.default else ''} model "
          f"({session.client.device_info.get('device', '?')}, {args.seconds:.0f} s of slider drag)")
    print(f"  heartbeats: {len(stalls)} at {HEARTBEAT_MS} ms; stall max {worst:.1f} ms, p99 {p99:.1f} ms, "
          f"median {stalls[len(stalls) // 2]:.1f} ms  (target max < {TARGET_MAX_STALL_MS:.0f} ms: "
          f"{'met' if worst < TARGET_MAX_STALL_MS else 'MISSED'})")
    print(f"  slider moves: {moves[0]}; grid renders started and finished or cut short: {renders}; "
          f"queued renders coalesced away: {worker.coalesced - coalesced0}")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
