"""A real main window with a real inference thread on a tiny golden network (offscreen Qt)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest


def wait_for(qtbot, condition, timeout=60000):
    qtbot.waitUntil(condition, timeout=timeout)


@pytest.fixture
def make_window(qtbot, monkeypatch):
    """Build MainWindow objects; every one is shut down (worker thread stopped) at the end."""
    from PySide6.QtWidgets import QMessageBox

    from studio.ui.main_window import MainWindow
    from studio.ui.session import StudioSession

    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warnings.append(a[2] if len(a) > 2 else a))
    made = []

    def make(model=None):
        session = StudioSession()
        window = MainWindow(session)
        window.warnings = warnings
        qtbot.addWidget(window)
        window.show()
        session.client.start()
        made.append(window)
        if model is not None:
            session.open_model(str(model))
            wait_for(qtbot, lambda: session.model is not None and grid_done(window))
        return window

    yield make
    for window in made:
        window.close()
    _fail_on_leaks(made)


def _fail_on_leaks(windows) -> None:
    """A test leaves nothing behind: no window or dialog on screen, no worker thread, no training process."""
    import threading

    from PySide6.QtCore import QProcess
    from PySide6.QtWidgets import QApplication

    leaks = [f"a visible {type(w).__name__} ({w.windowTitle() or 'untitled'})"
             for w in QApplication.topLevelWidgets() if w.isVisible()]
    for window in windows:
        if window.session.client.worker.isRunning():
            leaks.append("the inference worker thread is still running")
        process = getattr(window.train, "process", None)
        if process is not None and process.state() != QProcess.ProcessState.NotRunning:
            leaks.append("a training worker process is still running")
    threads = [t.name for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if threads:
        leaks.append(f"Python threads still running: {', '.join(threads)}")
    if leaks:
        pytest.fail("the test leaked " + "; ".join(leaks), pytrace=False)


def grid_done(window) -> bool:
    items = window.explore.grid.grid_model.items
    return bool(items) and all(item.image is not None and not item.stale for item in items)
