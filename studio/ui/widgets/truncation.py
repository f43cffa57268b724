"""Truncation controls: psi from -1 to 2 in fine steps, the favourite values one click away."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from studio.ui.qt_compat import QLabeledDoubleSlider

FAVOURITES = (0.5, 0.7, 1.0, 1.5)   # the seeds' favourite values (MachineRay 2 likes 1.5)
SNAP = 0.015                          # slider values this close to a favourite snap onto it


class TruncationControl(QWidget):
    """Signal ``value_changed(float)`` fires as the slider moves (panels coalesce renders)."""

    value_changed = Signal(float)

    def __init__(self, value: float = 1.0, parent=None):
        super().__init__(parent)
        self.slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(-1.0, 2.0)
        self.slider.setSingleStep(0.01)
        self.slider.setDecimals(2)
        self.slider.setValue(value)
        self.slider.setToolTip("Truncation psi: 1 = the model's full variety, lower = safer and more "
                               "average, above 1 = wilder. Page Up / Down jumps between the favourites.")
        self.slider.valueChanged.connect(self._on_slider)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for fav in FAVOURITES:
            b = QPushButton(f"{fav:g}", self)
            b.setToolTip(f"psi = {fav:g}")
            b.setFixedWidth(42)
            b.clicked.connect(lambda _=False, v=fav: self.set_value(v))
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider)
        layout.addLayout(buttons)

    def value(self) -> float:
        return round(float(self.slider.value()), 3)

    def set_value(self, value: float) -> None:
        self.slider.setValue(value)

    def _on_slider(self, value: float) -> None:
        for fav in FAVOURITES:
            if abs(value - fav) < SNAP and value != fav:
                self.slider.setValue(fav)   # re-enters with the snapped value
                return
        self.value_changed.emit(round(float(value), 3))

    def step_favourite(self, direction: int) -> None:
        """Move to the next favourite above (+1) or below (-1) the current value."""
        value = self.value()
        options = [f for f in FAVOURITES if (f > value + 1e-6 if direction > 0 else f < value - 1e-6)]
        if options:
            self.set_value(min(options) if direction > 0 else max(options))

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_PageUp:
            self.step_favourite(1)
        elif event.key() == Qt.Key.Key_PageDown:
            self.step_favourite(-1)
        else:
            super().keyPressEvent(event)
