"""Project a picture into the open model: the picture and the model's closest image side by side,
live as the search goes; the result is an ordinary image (a recipe with its w) to star or open."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from studio.gan.recipe import Recipe
from studio.ui import jobs
from studio.ui.session import StudioSession
from studio.ui.widgets.layout import path_row

PROJECT_KEY = "project.run"
VIEW_SIDE = 256
IMAGE_FILTER = "Pictures (*.png *.jpg *.jpeg *.tif *.tiff *.webp *.bmp);;All files (*)"


class ProjectDialog(QDialog):
    """After a run, ``recipe`` holds the projected image's recipe (or None)."""

    def __init__(self, session: StudioSession, parent=None, *, on_open=None, class_index: int | None = None):
        super().__init__(parent)
        self.session, self.client, self.on_open = session, session.client, on_open
        self.class_index = class_index
        self.recipe: Recipe | None = None
        self._current: QImage | None = None
        self.setWindowTitle("Project a picture into the model")
        v = QVBoxLayout(self)
        form = QFormLayout()
        self.path = QLineEdit()
        self.path.setPlaceholderText("a picture: PNG, JPEG, TIFF, WebP…")
        form.addRow("Picture", path_row(self.path, self.browse))
        self.fit = QComboBox()
        for key, text in (("crop", "Crop to the model's square"), ("pad", "Pad to the model's square"),
                          ("stretch", "Stretch to the model's square")):
            self.fit.addItem(text, key)
        form.addRow("Not square", self.fit)
        self.space = QComboBox()
        self.space.addItem("W+ (closest)", "w+")
        self.space.addItem("W (one w: easiest to edit)", "w")
        form.addRow("Search in", self.space)
        self.steps = QSpinBox(minimum=10, maximum=5000, value=300, singleStep=50)
        form.addRow("Steps", self.steps)
        v.addLayout(form)
        pictures = QHBoxLayout()
        self.target_view, self.result_view = QLabel("the picture"), QLabel("the model's closest image")
        for label in (self.target_view, self.result_view):
            label.setFixedSize(VIEW_SIDE, VIEW_SIDE)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setStyleSheet("background: #202024; color: #aaa")
            pictures.addWidget(label)
        v.addLayout(pictures)
        self.progress = QProgressBar()
        self.status = QLabel()
        self.status.setWordWrap(True)
        v.addWidget(self.progress)
        v.addWidget(self.status)
        buttons = QHBoxLayout()
        self.start_btn, self.stop_btn = QPushButton("Project"), QPushButton("Stop")
        self.star_btn, self.open_btn, close = QPushButton("★ Star"), QPushButton("Open in Explore"), QPushButton("Close")
        for b in (self.start_btn, self.stop_btn, self.star_btn, self.open_btn, close):
            buttons.addWidget(b)
        v.addLayout(buttons)
        self.stop_btn.setEnabled(False)
        self.star_btn.setEnabled(False)
        self.open_btn.setEnabled(False)
        self.start_btn.clicked.connect(self.start)
        self.stop_btn.clicked.connect(lambda: self.client.cancel(PROJECT_KEY))
        self.star_btn.clicked.connect(self.star)
        self.open_btn.clicked.connect(self.open_result)
        close.clicked.connect(self.close)

    def browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Picture to project", "", IMAGE_FILTER)
        if path:
            self.path.setText(path)

    def start(self) -> None:
        if self.session.model is None:
            self.status.setText("Open a model first")
            return
        if not self.path.text().strip():
            self.status.setText("Choose a picture first")
            return
        self.recipe = None
        self.star_btn.setEnabled(False)
        self.open_btn.setEnabled(False)
        self.start_btn.setEnabled(False)
        self.stop_btn.setEnabled(True)
        self.status.setText("looking for a starting point among random latents…")
        klass = (self.class_index or 0) if self.session.model.get("c_dim") else None
        self.client.submit(PROJECT_KEY, jobs.project_picture(
            self.path.text().strip(), self.fit.currentData(), self.space.currentData(), self.steps.value(), 256,
            klass, self.session.clip.spec, self.session.clip.config)).on(
            image=self._on_image, progress=self._on_progress, finished=self._on_finished,
            message=lambda text: self.status.setText(str(text)), failed=self._on_failed,
            cancelled=self._on_cancelled)

    def _on_image(self, tag, image: QImage, extra) -> None:
        view = self.target_view if tag == "target" else self.result_view
        view.setPixmap(QPixmap.fromImage(image).scaled(VIEW_SIDE, VIEW_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.SmoothTransformation))
        if tag == "current":
            self._current = image
            if extra is not None:
                self.status.setText(f"step {extra} of {self.steps.value()}")

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(total)
        self.progress.setValue(done)

    def _on_finished(self, result: dict) -> None:
        self.start_btn.setEnabled(True)
        self.stop_btn.setEnabled(False)
        if not result:
            return
        self.recipe = Recipe.from_json(result["recipe"])
        self.status.setText(f"PSNR {result['psnr']:.1f} dB, MS-SSIM {result['ms_ssim']:.3f} in {result['space'].upper()}, "
                            f"{result['seconds']:.0f} s. Star it, or open it to edit, export or evolve it.")
        self.star_btn.setEnabled(True)
        self.open_btn.setEnabled(self.on_open is not None)

    def _on_failed(self, message: str) -> None:
        self.start_btn.setEnabled(True)
        self.stop_btn.setEnabled(False)
        self.status.setText(message)

    def _on_cancelled(self) -> None:
        self.start_btn.setEnabled(True)
        self.stop_btn.setEnabled(False)
        self.status.setText("stopped")

    def star(self) -> None:
        if self.recipe is not None and self._current is not None:
            if self.session.star(self.recipe, self._current, source="project") is not None:
                self.status.setText("starred: it is in the Library")

    def open_result(self) -> None:
        if self.recipe is not None and self.on_open is not None:
            self.on_open(self.recipe)
            self.accept()
