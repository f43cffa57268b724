"""Export: post-process and write prints — levels, aspect ratio, print size, upscaling, formats.

Works on the images selected in Explore, Style Mix or the Library (one or a batch), with a live
before / after preview of the first. Files are re-rendered from their recipes at full quality;
every file carries its recipe, now with the post-processing and export settings.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.imaging.export import DEFAULT_NAME_PATTERN
from studio.ui import jobs
from studio.ui.session import StudioSession
from studio.ui.widgets.layout import sidebar
from studio.ui.widgets.upscaler import UpscalerChoice

PREVIEW_KEY = "export.preview"
EXPORT_KEY = "export.batch"
PREVIEW_SIDE = 480
SOURCES = [("explore", "Explore selection"), ("mix", "Style Mix selection"), ("evolve", "Evolve selection"),
           ("library", "Library selection")]
FORMATS = [("png", "PNG"), ("tiff", "TIFF"), ("jpeg", "JPEG"), ("webp", "WebP")]


class ExportPanel(QWidget):
    def __init__(self, session: StudioSession, parent=None):
        super().__init__(parent)
        self.session = session
        self.client = session.client
        self.recipes: list = []
        self.pad_color = (255, 255, 255)
        self._last_dir = str(Path.home())

        from studio.imaging.sizes import ASPECT_PRESETS

        self.aspect_presets = ASPECT_PRESETS
        controls = self._build_controls()
        scroll = sidebar(controls, 330)

        self.before = QLabel("Choose images to export: select them in Explore, Style Mix or the Library, "
                             "then press 'Use selection'.")
        self.after = QLabel()
        for label in (self.before, self.after):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setMinimumSize(300, 300)
            label.setWordWrap(True)
            label.setStyleSheet("background: #202024; color: #ddd;")
        previews = QHBoxLayout()
        for title, label in (("Before", self.before), ("After", self.after)):
            box = QVBoxLayout()
            box.addWidget(QLabel(f"<b>{title}</b>"))
            box.addWidget(label, 1)
            previews.addLayout(box, 1)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        right = QVBoxLayout()
        right.addLayout(previews, 1)
        right.addWidget(self.summary)
        left = QVBoxLayout()
        left.addWidget(scroll, 1)
        left.addLayout(self._action_row)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(left)
        layout.addLayout(right, 1)

        self._preview_timer = QTimer(self, singleShot=True, interval=120)
        self._preview_timer.timeout.connect(self.update_preview)
        session.model_changed.connect(lambda _info: self._changed())
        self._changed()

    # -- controls ---------------------------------------------------------------------------------
    def _build_controls(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)

        src = QGroupBox("Images")
        sf = QFormLayout(src)
        self.source_combo = QComboBox()
        for key, text in SOURCES:
            self.source_combo.addItem(text, key)
        self.use_btn = QPushButton("Use selection")
        self.source_label = QLabel("nothing chosen")
        sf.addRow(self.source_combo, self.use_btn)
        sf.addRow(self.source_label)
        v.addWidget(src)

        tone = QGroupBox("Tone")
        tf = QFormLayout(tone)
        self.levels_check = QCheckBox("Levels (per-channel stretch)")
        self.levels_low = QDoubleSpinBox(minimum=0.0, maximum=49.0, value=0.1, singleStep=0.1, decimals=2, suffix=" %")
        self.levels_high = QDoubleSpinBox(minimum=51.0, maximum=100.0, value=99.9, singleStep=0.1, decimals=2,
                                          suffix=" %")
        self.auto_levels = QCheckBox("Auto-levels (MAGnet)")
        self.saturation = QDoubleSpinBox(minimum=0.0, maximum=3.0, value=1.0, singleStep=0.05)
        self.gamma = QDoubleSpinBox(minimum=0.2, maximum=3.0, value=1.0, singleStep=0.05)
        tf.addRow(self.levels_check)
        row = QHBoxLayout()
        row.addWidget(self.levels_low)
        row.addWidget(QLabel("to"))
        row.addWidget(self.levels_high)
        tf.addRow("Percentiles", row)
        tf.addRow(self.auto_levels)
        tf.addRow("Saturation", self.saturation)
        tf.addRow("Gamma", self.gamma)
        v.addWidget(tone)

        shape = QGroupBox("Aspect ratio")
        af = QFormLayout(shape)
        self.aspect_combo = QComboBox()
        self.aspect_combo.addItem("Keep (as rendered)", None)
        for name, ratio in self.aspect_presets.items():
            plain = name in (f"{ratio:g}:1", f"{ratio:.3g}:1")
            self.aspect_combo.addItem(name if plain else f"{name}  ({ratio:.3g}:1)", ratio)
        self.aspect_combo.addItem("Custom", "custom")
        self.aspect_combo.addItem("Like a painting (random)", "painting")
        self.custom_ratio = QDoubleSpinBox(minimum=1.0, maximum=5.0, value=1.27, singleStep=0.01, decimals=3)
        orient = QHBoxLayout()
        self.landscape = QRadioButton("Landscape")
        self.portrait = QRadioButton("Portrait")
        self.landscape.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.landscape)
        group.addButton(self.portrait)
        orient.addWidget(self.landscape)
        orient.addWidget(self.portrait)
        self.mode_combo = QComboBox()
        # its longest choice shows in full in the popup; it must not widen the whole control column
        self.mode_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mode_combo.setMinimumContentsLength(24)
        self.mode_combo.addItem("Stretch (undo a squeezed training set)", "stretch")
        self.mode_combo.addItem("Centre crop", "crop")
        self.mode_combo.addItem("Pad with a colour", "pad")
        self.mode_combo.addItem("Native: the model draws the shape (StyleGAN2, SWAGAN, StyleGAN3)", "native")
        self.pad_btn = QPushButton("Pad colour…")
        af.addRow("Ratio", self.aspect_combo)
        af.addRow("Custom", self.custom_ratio)
        af.addRow(orient)
        af.addRow("Mode", self.mode_combo)
        af.addRow(self.pad_btn)
        v.addWidget(shape)

        size = QGroupBox("Size")
        zf = QFormLayout(size)
        self.size_mode = QComboBox()
        self.size_mode.addItem("As rendered", "source")
        self.size_mode.addItem("Long side in pixels", "long")
        self.size_mode.addItem("Print size", "print")
        self.long_side = QSpinBox(minimum=16, maximum=20000, value=4096, suffix=" px")
        self.print_w = QDoubleSpinBox(minimum=1, maximum=1000, value=40, decimals=1)
        self.print_h = QDoubleSpinBox(minimum=1, maximum=1000, value=50, decimals=1)
        self.print_unit = QComboBox()
        self.print_unit.addItems(["cm", "in"])
        self.dpi = QSpinBox(minimum=30, maximum=1200, value=300, suffix=" dpi")
        prow = QHBoxLayout()
        for widget in (self.print_w, QLabel("×"), self.print_h, self.print_unit):
            prow.addWidget(widget)
        self.upscaler = UpscalerChoice()
        self.sharpen = QDoubleSpinBox(minimum=0.0, maximum=2.0, value=0.0, singleStep=0.1)
        self.size_label = QLabel()
        self.size_label.setWordWrap(True)
        zf.addRow("Size", self.size_mode)
        zf.addRow("Long side", self.long_side)
        zf.addRow("Print", prow)
        zf.addRow("Resolution", self.dpi)
        zf.addRow("Upscaler", self.upscaler)
        zf.addRow("Sharpen", self.sharpen)
        zf.addRow(self.size_label)
        v.addWidget(size)

        fmt = QGroupBox("File")
        ff = QFormLayout(fmt)
        self.format_combo = QComboBox()
        for key, text in FORMATS:
            self.format_combo.addItem(text, key)
        self.bits = QComboBox()
        self.bits.addItem("8 bit", 8)
        self.bits.addItem("16 bit", 16)
        self.quality = QSpinBox(minimum=1, maximum=100, value=95)
        self.folder_edit = QLineEdit(str(Path.home() / "Pictures" / "studio-prints"))
        self.folder_btn = QPushButton("…")
        self.name_edit = QLineEdit(DEFAULT_NAME_PATTERN)
        self.name_edit.setToolTip("File names: {model}, {latent} (seed0042, or image003 without a seed), "
                                  "{seed}, {index} (position in the batch, e.g. {index:03d}); the extension "
                                  "is added")
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.folder_btn)
        self.overwrite = QCheckBox("Replace existing files")
        self.repeat = QComboBox()
        self.repeat.addItem("Only the tile", 1)
        for n in (2, 3, 4):
            self.repeat.addItem(f"The tile and it repeated {n} × {n}", n)
        self.repeat.setCurrentIndex(2)
        self.repeat.setToolTip("Seamless tiles: also write the tile repeated, beside it (NAME-repeat3x3), to see "
                               "or print the pattern; pictures that are not tiles are written alone")
        self.repeat_label = QLabel("Tiles")
        ff.addRow("Format", self.format_combo)
        ff.addRow("Bit depth", self.bits)
        ff.addRow("Quality", self.quality)
        ff.addRow("Folder", folder_row)
        ff.addRow("Name", self.name_edit)
        ff.addRow(self.repeat_label, self.repeat)
        ff.addRow(self.overwrite)
        v.addWidget(fmt)

        buttons = QHBoxLayout()
        self.export_btn = QPushButton("Export")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        buttons.addWidget(self.export_btn)
        buttons.addWidget(self.cancel_btn)
        self._action_row = buttons            # below the scrolling controls: always in view
        v.addStretch(1)

        self.use_btn.clicked.connect(self.use_selection)
        self.pad_btn.clicked.connect(self._choose_pad)
        self.folder_btn.clicked.connect(self._choose_folder)
        self.upscaler.changed.connect(self._changed)
        self.export_btn.clicked.connect(self.export)
        self.cancel_btn.clicked.connect(lambda: self.client.cancel(EXPORT_KEY))
        for widget in (self.levels_check, self.auto_levels, self.landscape, self.portrait):
            widget.toggled.connect(self._changed)
        for widget in (self.levels_low, self.levels_high, self.saturation, self.gamma, self.custom_ratio,
                       self.long_side, self.print_w, self.print_h, self.dpi, self.sharpen):
            widget.valueChanged.connect(self._changed)
        for widget in (self.aspect_combo, self.mode_combo, self.size_mode, self.print_unit, self.format_combo,
                       self.bits):
            widget.currentIndexChanged.connect(self._changed)
        # the orientation follows what the artist names: a preset written upright ("4:5") or a print size
        self.aspect_combo.currentIndexChanged.connect(self._orient_from_ratio)
        for widget in (self.print_w, self.print_h):
            widget.valueChanged.connect(self._orient_from_print)
        self.size_mode.currentIndexChanged.connect(self._orient_from_print)
        return w

    def _orient(self, orientation: str | None) -> None:
        if orientation is not None:
            (self.portrait if orientation == "portrait" else self.landscape).setChecked(True)

    def _orient_from_ratio(self, *_args) -> None:
        from studio.imaging.sizes import aspect_orientation

        self._orient(aspect_orientation(self.aspect_combo.currentText().split("  (")[0]))

    def _orient_from_print(self, *_args) -> None:
        from studio.imaging.sizes import print_orientation

        if self.size_mode.currentData() == "print":
            self._orient(print_orientation(self.print_w.value(), self.print_h.value()))

    # -- settings ---------------------------------------------------------------------------------
    def _aspect(self) -> float | None:
        data = self.aspect_combo.currentData()
        if data == "custom":
            return float(self.custom_ratio.value())
        if data == "painting":
            return getattr(self, "_painting_ratio", 1.27)
        return data

    def passes(self, *, preview: bool = False) -> tuple[list, str]:
        """The post-processing passes (see ``export.plan_passes``) and a note; with ``preview``,
        the same look at preview size with the fast resampler."""
        from studio.imaging.export import plan_passes
        from studio.imaging.sizes import print_pixels

        size = long_side = None
        mode = self.size_mode.currentData()
        if mode == "long":
            long_side = self.long_side.value()
        elif mode == "print":
            size = print_pixels(self.print_w.value(), self.print_h.value(), self.print_unit.currentText(),
                                self.dpi.value())
        if preview and size is not None:
            scale = PREVIEW_SIDE / max(size)
            size = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
        elif preview:
            long_side = PREVIEW_SIDE
        upscaler = "lanczos" if preview else self.upscaler.value()
        colour = dict(levels=(self.levels_low.value(), self.levels_high.value()) if self.levels_check.isChecked()
                      else None, auto_levels=self.auto_levels.isChecked(), saturation=self.saturation.value(),
                      gamma=self.gamma.value())
        mode = self.mode_combo.currentData()
        shape = dict(aspect=self._aspect(), orientation="portrait" if self.portrait.isChecked() else "landscape",
                     mode="crop" if mode == "native" else mode, pad_color=self.pad_color)   # native: see _rendered
        final = dict(long_side=long_side, upscaler=upscaler, sharpen=0.0 if preview else self.sharpen.value(),
                     bit_depth=8 if preview else self.bits.currentData())
        return plan_passes(colour=colour, shape=shape, final=final, size=size)

    def _rendered(self, recipe):
        """The recipe as it is rendered: in native mode, at the print's shape (its canvas widened; what the
        quarter steps leave over is cropped by the shape pass)."""
        aspect = self._aspect()
        if self.mode_combo.currentData() != "native" or not aspect:
            return recipe
        from dataclasses import replace

        from studio.gan.render_settings import canvas_units

        ratio = float(aspect) if self.landscape.isChecked() else 1 / float(aspect)
        units = canvas_units(f"{ratio:.6f}")
        return replace(recipe, canvas=None if units == (4, 4) else list(units))

    def export_settings(self):
        from studio.imaging.export import ExportSettings

        return ExportSettings(format=self.format_combo.currentData(), quality=self.quality.value(),
                              dpi=float(self.dpi.value()), overwrite=self.overwrite.isChecked(),
                              repeat=self.repeat.currentData() if self._has_tiles() else 1)

    def _changed(self, *_args) -> None:
        if self.aspect_combo.currentData() == "painting" and not hasattr(self, "_painting_ratio"):
            from studio.imaging.sizes import painting_aspect

            self._painting_ratio, orientation = painting_aspect()
            (self.portrait if orientation == "portrait" else self.landscape).setChecked(True)
        elif self.aspect_combo.currentData() != "painting" and hasattr(self, "_painting_ratio"):
            del self._painting_ratio
        deep = self.format_combo.currentData() in ("png", "tiff")
        if not deep:                           # JPEG / WebP hold 8 bits: show it, remember the choice
            if self.bits.isEnabled():
                self._chosen_bits = self.bits.currentData()
            bits = 8
        elif not self.bits.isEnabled():        # back to PNG / TIFF: the artist's choice again
            bits = getattr(self, "_chosen_bits", self.bits.currentData())
        else:
            bits = self.bits.currentData()
        self.bits.blockSignals(True)
        self.bits.setCurrentIndex(self.bits.findData(bits))
        self.bits.blockSignals(False)
        self.bits.setEnabled(deep)
        self.bits.setToolTip("" if deep else f"{self.format_combo.currentText()} holds 8 bits per channel")
        self.quality.setEnabled(self.format_combo.currentData() in ("jpeg", "webp"))
        size_mode = self.size_mode.currentData()
        self.long_side.setEnabled(size_mode == "long")
        for widget in (self.print_w, self.print_h, self.print_unit):
            widget.setEnabled(size_mode == "print")
        self.custom_ratio.setEnabled(self.aspect_combo.currentData() == "custom")
        reshaping = self.aspect_combo.currentData() is not None
        for widget in (self.landscape, self.portrait, self.mode_combo):
            widget.setEnabled(reshaping)
        self.pad_btn.setEnabled(reshaping and self.mode_combo.currentData() == "pad")
        self.levels_low.setEnabled(self.levels_check.isChecked())
        self.levels_high.setEnabled(self.levels_check.isChecked())
        self._update_size_label()
        self._preview_timer.start()

    def output_size(self) -> tuple[int, int]:
        from studio.imaging.postprocess import output_size

        w = h = self.session.model["resolution"] if self.session.model else 1024
        passes, _ = self.passes()
        for step in passes:
            w, h = output_size(w, h, step)
        return w, h

    def _size_text(self) -> str:
        w, h = self.output_size()
        dpi = self.dpi.value()
        return (f"Output {w:,} × {h:,} px = {w / dpi * 2.54:.1f} × {h / dpi * 2.54:.1f} cm "
                f"({w / dpi:.1f} × {h / dpi:.1f} in) at {dpi} dpi")

    def _update_size_label(self) -> None:
        try:
            text = self._size_text()
            note = self.passes()[1]
        except ValueError as exc:
            self.size_label.setText(str(exc))
            return
        self.size_label.setText(text + (f"\n{note}" if note else ""))

    def _choose_pad(self) -> None:
        color = QColorDialog.getColor(QColor(*self.pad_color), self, "Pad colour")
        if color.isValid():
            self.pad_color = (color.red(), color.green(), color.blue())
            self._changed()

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    # -- sources and preview -----------------------------------------------------------------------
    def use_selection(self) -> None:
        key = self.source_combo.currentData()
        self.set_recipes(self.session.selections.get(key, []))

    def set_recipes(self, recipes: list, source: str | None = None) -> None:
        """The images to export; ``source`` names the panel they came from (the combo shows it)."""
        if source is not None and self.source_combo.findData(source) >= 0:
            self.source_combo.setCurrentIndex(self.source_combo.findData(source))
        self.recipes = list(recipes)
        for widget in (self.repeat, self.repeat_label):
            widget.setVisible(self._has_tiles())
        if not self.recipes:
            self.source_label.setText("nothing selected there")
            return
        names = ", ".join(_latent_name(r) for r in self.recipes[:6]) + (" …" if len(self.recipes) > 6 else "")
        self.source_label.setText(f"{len(self.recipes)} image{'s' * (len(self.recipes) > 1)}: {names}")
        self.update_preview()

    def _has_tiles(self) -> bool:
        return any(getattr(r, "tile", False) for r in self.recipes)

    def update_preview(self) -> None:
        if not self.recipes or self.session.model is None:
            return
        try:
            passes, _ = self.passes(preview=True)
            size_text = self._size_text()
        except ValueError as exc:
            self.summary.setText(str(exc))
            return
        self.client.submit(PREVIEW_KEY, jobs.export_preview(self._rendered(self.recipes[0]).to_json(),
                                                             [p.to_dict() for p in passes],
                                                             size_text)).on(
            image=self._on_preview_image, failed=self.summary.setText)

    def _show(self, label: QLabel, image: QImage) -> None:
        pix = QPixmap.fromImage(image)
        label.setPixmap(pix.scaled(label.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation))

    def _on_preview_image(self, tag, image: QImage, extra) -> None:
        self._show(self.before if tag == "before" else self.after, image)
        if tag == "after" and extra:
            self.summary.setText(extra)

    # -- export ---------------------------------------------------------------------------------------
    def export(self) -> None:
        if not self.recipes:
            self.session.status.emit("Choose images first: select them, then 'Use selection'", 4000)
            return
        folder = self.folder_edit.text().strip()
        if not folder:
            self.session.status.emit("Choose a folder to export into", 4000)
            return
        try:
            passes, _ = self.passes()
            export = self.export_settings()
        except ValueError as exc:
            self.session.status.emit(str(exc), 0)
            return
        self.export_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.client.submit(EXPORT_KEY, jobs.export_batch([self._rendered(r).to_json() for r in self.recipes],
                                                         [p.to_dict() for p in passes], export.to_dict(), folder,
                                                         self.name_edit.text())).on(
            progress=lambda done, total: self.summary.setText(f"Exporting {done} of {total} …"),
            finished=self._on_exported, failed=self._on_export_failed, cancelled=self._on_export_cancelled)

    def _on_exported(self, reports) -> None:
        self._done()
        if reports:
            last = reports[-1]
            repeats = sum(1 for report in reports if report.get("repeat_path"))
            also = f" and {repeats} repeat{'s' * (repeats > 1)} of tiles" if repeats else ""
            self.summary.setText(f"Wrote {len(reports)} file{'s' * (len(reports) > 1)}{also} to "
                                 f"{Path(last['path']).parent} — {last['width']:,} × {last['height']:,} px, "
                                 f"upscaled with {last['upscaler']}")
            self.session.status.emit(f"Exported {len(reports)} file(s)", 5000)

    def _on_export_cancelled(self) -> None:
        self._done()
        self.summary.setText("Cancelled: the files already written stay; the one in progress left nothing")

    def _on_export_failed(self, message: str) -> None:
        self._done()
        self.summary.setText(message)
        self.session.status.emit(message, 0)

    def _done(self) -> None:
        self.export_btn.setEnabled(True)
        self.cancel_btn.setEnabled(False)


def _latent_name(recipe) -> str:
    if recipe.seed is not None:
        name = f"seed {recipe.seed}"
    else:
        name = "latent"
    if recipe.mix is not None and recipe.mix.source.seed is not None:
        name += f" × {recipe.mix.source.seed}"
    return name
