"""How pictures grow: Lanczos, or the artist's own ONNX super-resolution model (Export, videos)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFileDialog

ONNX_FILTER = "ONNX super-resolution model (*.onnx)"


class UpscalerChoice(QComboBox):
    """``value()`` is ``"lanczos"`` or ``"onnx:PATH"``; choosing the ONNX entry asks for the file
    (cancelling goes back to Lanczos). ``changed`` fires once the choice is settled."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.addItem("Lanczos", "lanczos")
        self.addItem("ONNX super-resolution model…", "onnx")
        self.setToolTip("Lanczos, or your own ONNX model (Real-ESRGAN and the like), run by ONNX Runtime")
        self.path: str | None = None
        self._start = str(Path.home())
        self.currentIndexChanged.connect(self._on_choice)

    def value(self) -> str:
        return f"onnx:{self.path}" if self.currentData() == "onnx" and self.path else "lanczos"

    def _on_choice(self, _index: int) -> None:
        if self.currentData() == "onnx":
            path, _ = QFileDialog.getOpenFileName(self, "Super-resolution model", self._start, ONNX_FILTER)
            if not path:
                self.setCurrentIndex(0)        # re-enters with Lanczos
                return
            self.path, self._start = path, str(Path(path).parent)
            self.setItemText(1, f"ONNX: {Path(path).name}")
        self.changed.emit()
