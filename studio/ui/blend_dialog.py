"""Blend the open model with another, layer by layer, watching a preview grid as the weights move;
save the blend as a new studio network (its provenance names both parents and the weights)."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QVBoxLayout,
)

from studio.gan.mixing import PRESET_SCALES, layer_resolution
from studio.ui import jobs
from studio.ui.session import StudioSession
from studio.ui.widgets.image_grid import ImageGrid
from studio.ui.widgets.layout import path_row, slider_row

PREVIEW_KEY = "blend.preview"
SAVE_KEY = "blend.save"
SEEDS = (0, 1, 2, 3, 4, 5)
GROUPS = (("coarse", "Layout (coarse layers)"), ("middle", "Shapes (middle layers)"), ("fine", "Colour (fine layers)"))
MODEL_FILTER = "Networks (*.pkl *.pt *.safetensors);;All files (*)"


class BlendDialog(QDialog):
    def __init__(self, session: StudioSession, parent=None):
        super().__init__(parent)
        self.session, self.client = session, session.client
        self.saved: str | None = None
        self.setWindowTitle("Blend models")
        v = QVBoxLayout(self)
        form = QFormLayout()
        self.other = QLineEdit()
        self.other.setPlaceholderText("a network of the same architecture and size")
        name = session.model["name"] if session.model else "the open model"
        form.addRow(f"Blend {name} with", path_row(self.other, self.browse))
        self.sliders: dict[str, QSlider] = {}
        self.values: dict[str, QLabel] = {}
        for key, text in GROUPS:
            slider, value, line = slider_row(0, 100, "0 %",
                                             tooltip="0 = the open model's layers, 100 = the other model's")
            form.addRow(f"{text} from the other", line)
            slider.valueChanged.connect(lambda n, k=key: self._on_slider(k, n))
            self.sliders[key], self.values[key] = slider, value
        v.addLayout(form)
        self.grid = ImageGrid(rows=1, cols=len(SEEDS))
        self.grid.setMinimumHeight(150)
        v.addWidget(self.grid, 1)
        self.status = QLabel("Choose the other model, then move the sliders")
        self.status.setWordWrap(True)
        v.addWidget(self.status)
        buttons = QHBoxLayout()
        self.save_btn, self.open_btn, close = QPushButton("Save as…"), QPushButton("Open the blend"), QPushButton("Close")
        for b in (self.save_btn, self.open_btn, close):
            buttons.addWidget(b)
        v.addLayout(buttons)
        self.save_btn.setEnabled(False)
        self.open_btn.setEnabled(False)
        self.save_btn.clicked.connect(lambda: self.save_as())
        self.open_btn.clicked.connect(self.open_blend)
        close.clicked.connect(self.close)
        self.other.editingFinished.connect(self.schedule)
        self._timer = QTimer(self, singleShot=True, interval=250)
        self._timer.timeout.connect(self.render)
        self.resize(820, 360)

    def browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "The other model", "", MODEL_FILTER)
        if path:
            self.other.setText(path)
            self.schedule()

    def _on_slider(self, key: str, value: int) -> None:
        self.values[key].setText(f"{value} %")
        self.schedule()

    def points(self) -> dict[int, float]:
        """Every w layer's weight, from the group its scale falls in."""
        model = self.session.model or {}
        scales = model.get("layer_scales") or [layer_resolution(i) for i in range(model.get("num_ws", 0))]
        out = {}
        for i, scale in enumerate(scales):
            for key, _ in GROUPS:
                low, high = PRESET_SCALES[key]
                if low <= scale < high:
                    out[i] = self.sliders[key].value() / 100
        return out

    def schedule(self) -> None:
        if self.other.text().strip():
            self._timer.start()

    def render(self) -> None:
        other = self.other.text().strip()
        if not other or self.session.model is None:
            return
        self.grid.grid_model.set_items(list(SEEDS), [f"seed {s}" for s in SEEDS], keep_images=True)
        self.status.setText("blending…")
        klass = 0 if self.session.model.get("c_dim") else None
        self.client.submit(PREVIEW_KEY, jobs.blend_preview(other, self.points(), SEEDS, klass)).on(
            image=lambda tag, image, _extra: self.grid.grid_model.set_image(tag, image),
            finished=lambda _n: self._previewed(), failed=self._failed)

    def _previewed(self) -> None:
        self.status.setText("The preview shows the blend; save it to open it as a model of its own")
        self.save_btn.setEnabled(True)

    def _failed(self, message: str) -> None:
        self.status.setText(message)
        self.save_btn.setEnabled(False)

    def save_as(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save the blend", "blend.safetensors",
                                                  "Studio networks (*.safetensors)")
            if not path:
                return
        if not path.endswith(".safetensors"):
            path += ".safetensors"
        self.status.setText("saving…")
        self.client.submit(SAVE_KEY, jobs.blend_save(self.other.text().strip(), self.points(), path)).on(
            finished=self._saved, failed=self._failed)

    def _saved(self, path: str) -> None:
        self.saved = path
        self.status.setText(f"Saved {path}")
        self.open_btn.setEnabled(True)

    def open_blend(self) -> None:
        if self.saved:
            self.session.open_model(self.saved)
            self.accept()
