"""The Canvas choice of a panel: the square the network was trained at, or a wider or taller shape it
draws natively (its input widened, nothing stretched or cropped)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox

from studio.gan.render_settings import canvas_units

CHOICES = (("Square (as trained)", None), ("5:4 landscape", "5:4"), ("3:2 landscape", "3:2"),
           ("16:9 landscape", "16:9"), ("2:1 panorama", "2:1"), ("4:5 portrait", "4:5"), ("2:3 portrait", "2:3"),
           ("9:16 portrait", "9:16"))


class CanvasCombo(QComboBox):
    def __init__(self, parent=None):
        super().__init__(parent)
        for text, ratio in CHOICES:
            self.addItem(text, ratio)
        self.setToolTip("Render natively at another shape: the network's input is widened, nothing is stretched or "
                        "cropped (StyleGAN2, SWAGAN and StyleGAN3 models)")

    def units(self) -> tuple[int, int] | None:
        """The chosen canvas in (width, height) quarters of the side; None for the square."""
        ratio = self.currentData()
        return None if ratio is None else canvas_units(ratio)

    def set_units(self, units) -> None:
        """Show the choice nearest a recipe's canvas (the square for none)."""
        want = units[0] / units[1] if units else 1.0
        shapes = [canvas_units(self.itemData(i)) if self.itemData(i) else (4, 4) for i in range(self.count())]
        self.setCurrentIndex(min(range(len(shapes)), key=lambda i: abs(shapes[i][0] / shapes[i][1] - want)))
