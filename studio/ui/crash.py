"""Turn an uncaught exception into a dialog with a copyable report instead of a silent exit."""

from __future__ import annotations

import platform
import sys
import threading
import traceback

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout


def crash_report(exc_type, exc, tb) -> str:
    from studio import __version__

    versions = [f"GAN Art Studio {__version__}", f"Python {platform.python_version()} on {platform.platform()}"]
    for name in ("PySide6", "torch", "numpy"):
        module = sys.modules.get(name)
        if module is not None:
            versions.append(f"{name} {getattr(module, '__version__', '?')}")
    return "\n".join(versions) + "\n\n" + "".join(traceback.format_exception(exc_type, exc, tb))


class CrashDialog(QDialog):
    def __init__(self, report: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("GAN Art Studio hit a problem")
        self.resize(720, 460)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Something went wrong. Your work in the library is safe.\n"
                                "Please copy this report into a bug report."))
        self.text = QPlainTextEdit(report)
        self.text.setReadOnly(True)
        layout.addWidget(self.text, 1)
        buttons = QDialogButtonBox()
        copy = buttons.addButton("Copy report", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(report))
        buttons.addButton("Continue", QDialogButtonBox.ButtonRole.AcceptRole)
        quit_button = buttons.addButton("Quit", QDialogButtonBox.ButtonRole.DestructiveRole)
        quit_button.clicked.connect(QApplication.quit)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)


def install_crash_handler() -> None:
    """Route uncaught exceptions (UI thread and other threads) to the dialog."""
    showing = {"open": False}

    def show(exc_type, exc, tb) -> None:
        report = crash_report(exc_type, exc, tb)
        sys.stderr.write(report)
        if showing["open"] or QApplication.instance() is None:
            return
        showing["open"] = True
        try:
            CrashDialog(report).exec()
        finally:
            showing["open"] = False

    def hook(exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            QApplication.quit()
            return
        show(exc_type, exc, tb)

    def thread_hook(args) -> None:  # show on the UI thread
        QTimer.singleShot(0, lambda: show(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = hook
    threading.excepthook = thread_hook
