"""The window's part of ``studio --self-test``: open the main window offscreen on the bundled model,
wait for its first grid, and close it (the worker thread stopped, nothing left running)."""

from __future__ import annotations

import os
import time


def window_check(timeout_s: float = 120.0) -> str:
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
