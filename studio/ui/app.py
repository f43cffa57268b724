"""Start the studio window: checks first, the window next, torch last (on the inference thread)."""

from __future__ import annotations

import os
import sys
import time


def run_app(model: str | None = None, argv: list[str] | None = None) -> int:
    from studio.ui.startup import check_platform

    problem = check_platform()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    started = time.perf_counter()
    from PySide6.QtWidgets import QApplication

    from studio.ui.crash import install_crash_handler
    from studio.ui.main_window import MainWindow
    from studio.ui.session import StudioSession

    app = QApplication.instance() or QApplication(argv or [sys.argv[0]])
    app.setApplicationName("GAN Art Studio")
    app.setOrganizationName("gan-art-studio")
    app.setDesktopFileName("gan-art-studio")      # the .desktop entry the bundles install (its icon, its name)
    set_icon(app)
    install_crash_handler()
    session = StudioSession()
    window = MainWindow(session)
    window.show()
    app.processEvents()
    window.show_status(f"Ready in {time.perf_counter() - started:.2f} s", 4000)
    if os.environ.get("STUDIO_STARTUP_PROBE"):  # benchmarks/startup.py: report and leave
        print("window-shown", flush=True)
        return 0
    session.client.start()          # imports torch on the worker thread
    start = model or startup_model(session.settings.last_model)
    if start:
        window.open_path(start)
    return app.exec()


def set_icon(app) -> None:
    from PySide6.QtGui import QIcon

    from studio.core import paths

    if paths.icon_path().is_file():
        app.setWindowIcon(QIcon(str(paths.icon_path())))


def startup_model(last: str | None) -> str | None:
    """What opens when no model is named: the last one if it is still there, else the bundled
    default generator, else nothing (the window shows how to open one)."""
    from pathlib import Path

    from studio.core import paths

    bundled = paths.default_network_path().is_file()
    if last and last.lower() != "default" and Path(last).expanduser().is_file():
        return last
    return "default" if bundled else None


def window_check(timeout_s: float = 120.0) -> str:
    """The window's part of ``studio --self-test``: open the main window offscreen on the bundled model,
    wait for its first grid, and close it (the worker thread stopped, nothing left running)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    from studio.ui.main_window import MainWindow
    from studio.ui.session import StudioSession

    app = QApplication.instance() or QApplication(["studio"])
    start = time.perf_counter()
    session = StudioSession()
    window = MainWindow(session)
    window.show()
    session.client.start()
    session.open_model("default")
    grid = window.explore.grid.grid_model
    try:
        while time.perf_counter() - start < timeout_s:
            app.processEvents()
            items = grid.items
            if items and all(item.image is not None and not item.stale for item in items):
                break
            time.sleep(0.02)
        else:
            raise RuntimeError(f"the default model's grid did not render within {timeout_s:.0f} s")
        shown = len(grid.items)
    finally:
        window.close()
        QCoreApplication.processEvents()
    if session.client.worker.isRunning():
        raise RuntimeError("the inference thread kept running after the window closed")
    return f"{app.platformName()} window showed {shown} pictures and closed in {time.perf_counter() - start:.1f} s"
