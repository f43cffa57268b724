"""Prepare a training set from a folder of pictures, with a preview of what the crops will look like."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from studio.core import paths
from studio.ui import jobs
from studio.ui.session import StudioSession

PREVIEW_KEY = "prepare.preview"
PREPARE_KEY = "prepare.run"
CROPS = [("square", "Centre square"), ("rect", "Mean aspect ratio, squeezed (GANscapes)"),
         ("three", "Three squares per picture (MAGnet)"), ("pad", "Letterbox (pad)"), ("stretch", "Stretch")]


class PrepareDialog(QDialog):
    """After ``exec()``, ``prepared`` holds the new dataset folder (or None)."""

    def __init__(self, session: StudioSession, parent=None):
        super().__init__(parent)
        self.session = session
        self.client = session.client
        self.prepared: str | None = None
        self.setWindowTitle("Prepare a training set")
        self.resize(980, 640)
        self.src = QLineEdit()
        self.dest = QLineEdit()
        src_btn, dest_btn = QPushButton("…"), QPushButton("…")
        src_btn.clicked.connect(self._choose_src)
        dest_btn.clicked.connect(self._choose_dest)
        self.res = QComboBox()
        for r in (64, 128, 256, 512, 1024):
            self.res.addItem(f"{r} × {r}", r)
        self.res.setCurrentIndex(2)
        self.crop = QComboBox()
        for key, text in CROPS:
            self.crop.addItem(text, key)
        self.labels = QCheckBox("Labels from sub-folder names (genres)")
        self.frames = QCheckBox("Remove picture frames")
        self.clip_phrase = QLineEdit()
        self.clip_phrase.setPlaceholderText("optional, e.g. impressionist landscape painting")
        self.keep = QLineEdit("90%")
        form = QFormLayout()
        for label, widget, button in (("Pictures", self.src, src_btn), ("New dataset", self.dest, dest_btn)):
            row = QHBoxLayout()
            row.addWidget(widget, 1)
            row.addWidget(button)
            form.addRow(label, row)
        form.addRow("Resolution", self.res)
        form.addRow("Crop", self.crop)
        form.addRow(self.labels)
        form.addRow(self.frames)
        form.addRow("CLIP filter", self.clip_phrase)
        form.addRow("Keep", self.keep)
        self.before, self.after = [], []
        grid = QGridLayout()
        grid.addWidget(QLabel("<b>Before</b>"), 0, 0)
        grid.addWidget(QLabel("<b>After</b>"), 0, 1)
        for i in range(4):
            b, a = QLabel(), QLabel()
            for label in (b, a):
                label.setFixedHeight(110)
                label.setMinimumWidth(200)
                label.setAlignment(Qt.AlignmentFlag.AlignCenter)
                label.setStyleSheet("background: #202024;")
            grid.addWidget(b, i + 1, 0)
            grid.addWidget(a, i + 1, 1)
            self.before.append(b)
            self.after.append(a)
        self.progress = QProgressBar()
        self.progress.hide()
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        self.report.setMaximumHeight(120)
        self.preview_btn = QPushButton("Preview")
        self.prepare_btn = QPushButton("Prepare")
        self.close_btn = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.preview_btn, self.prepare_btn, self.close_btn):
            buttons.addWidget(b)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(self.progress)
        left.addWidget(self.report, 1)
        body = QHBoxLayout()
        body.addLayout(left, 1)
        body.addLayout(grid, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addLayout(buttons)
        self.preview_btn.clicked.connect(self.preview)
        self.prepare_btn.clicked.connect(self.prepare)
        self.close_btn.clicked.connect(self._close)
        self.crop.currentIndexChanged.connect(lambda _i: self.preview())
        self.res.currentIndexChanged.connect(lambda _i: self.preview())

    def _choose_src(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of pictures", self.src.text() or str(Path.home()))
        if folder:
            self.src.setText(folder)
            if not self.dest.text():
                self.dest.setText(str(paths.data_dir() / "datasets" / f"{Path(folder).name}-{self.res.currentData()}"))
            self.preview()

    def _choose_dest(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Where to put the dataset", str(paths.data_dir()))
        if folder:
            self.dest.setText(folder)

    def preview(self) -> None:
        if not self.src.text().strip():
            return
        self.client.submit(PREVIEW_KEY, jobs.prepare_preview(self.src.text().strip(), self.crop.currentData(),
                                                             min(self.res.currentData(), 256),
                                                             trim_frames=self.frames.isChecked())).on(
            image=self._on_image, finished=self._on_previewed, failed=self._on_failed)

    def options(self) -> dict:
        phrase = self.clip_phrase.text().strip() or None
        options = {"resolution": self.res.currentData(), "crop": self.crop.currentData(),
                   "labels_from_folders": self.labels.isChecked(), "trim_frames": self.frames.isChecked()}
        if phrase:
            options.update(clip_filter=phrase, keep=self.keep.text().strip() or "90%",
                           clip_spec=self.session.clip.spec, clip_config=self.session.clip.config)
        return options

    def prepare(self) -> None:
        src, dest = self.src.text().strip(), self.dest.text().strip()
        if not src or not dest:
            self.report.setPlainText("Choose the folder of pictures and where the dataset goes.")
            return
        self.prepare_btn.setEnabled(False)
        self.progress.show()
        self.report.setPlainText("Preparing …")
        self.client.submit(PREPARE_KEY, jobs.prepare_dataset(src, dest, self.options())).on(
            progress=self._on_progress, finished=self._on_prepared, failed=self._on_failed)

    def _on_image(self, tag, image: QImage, extra) -> None:
        side, i = tag
        label = (self.before if side == "before" else self.after)[i]
        label.setPixmap(QPixmap.fromImage(image).scaled(max(label.width(), label.minimumWidth()), label.height(),
                                                        Qt.AspectRatioMode.KeepAspectRatio,
                                                        Qt.TransformationMode.SmoothTransformation))
        label.setToolTip(str(extra))

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)

    def _on_prepared(self, result: dict) -> None:
        self.prepare_btn.setEnabled(True)
        self.report.setPlainText(result["summary"])
        self.prepared = result["out"]

    def _on_previewed(self, result) -> None:
        if isinstance(result, dict) and result.get("aspect_ratio"):
            self.report.setPlainText(f"{result['files']} pictures; mean aspect ratio {result['aspect_ratio']:.3f}:1")

    def _on_failed(self, message: str) -> None:
        self.prepare_btn.setEnabled(True)
        self.report.setPlainText(message)

    def _close(self) -> None:
        self.client.cancel(PREPARE_KEY)
        self.accept() if self.prepared else self.reject()
