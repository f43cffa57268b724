"""Library: browse starred images, filter by model / tag / stars / text, edit notes and tags,
delete, and re-open an image's recipe in Explore.

The store (``studio.library.Library``) does the work; this panel shows it and edits it. It
listens to the store's events, so a star from any panel appears here at once.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.library import LibraryError
from studio.ui.session import StudioSession
from studio.ui.widgets.image_grid import ImageGrid

ORDERS = [("newest", "Newest first"), ("oldest", "Oldest first"), ("stars", "Most stars")]


def _describe(recipe) -> str:
    if recipe is None:
        return "recipe from a newer studio"
    latent = f"seed {recipe.seed}" if recipe.seed is not None else ("explicit w" if recipe.w is not None else "explicit z")
    parts = [latent, f"psi {recipe.truncation_psi:g}"]
    if recipe.truncation_cutoff:
        parts.append(f"cutoff {recipe.truncation_cutoff}")
    if recipe.class_index is not None:
        parts.append(f"class {recipe.class_index}")
    if recipe.mix is not None:
        src = recipe.mix.source.seed if recipe.mix.source.seed is not None else "a latent"
        parts.append(f"styles {recipe.mix.layers[0]}-{recipe.mix.layers[-1]} from {src}" if recipe.mix.layers else "mix")
    if recipe.noise_mode != "const":
        parts.append(f"noise {recipe.noise_mode}")
    if any(recipe.translate):
        parts.append(f"moved {recipe.translate[0]:g}, {recipe.translate[1]:g}")
    if recipe.rotate:
        parts.append(f"turned {recipe.rotate:g}°")
    return " · ".join(parts)


class LibraryPanel(QWidget):
    """Signals: ``open_recipe(Recipe)``: the artist asked to see an image again;
    ``interpolate(list[Recipe])``: make an interpolation strip through the selected favourites."""

    open_recipe = Signal(object)
    interpolate = Signal(list)

    def __init__(self, session: StudioSession, parent=None):
        super().__init__(parent)
        self.session = session
        self._unsubscribe = None
        self._images = {}

        self.model_combo = QComboBox()
        self.tag_combo = QComboBox()
        for combo in (self.model_combo, self.tag_combo):     # "green (12)", never "green (1"
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.stars_combo = QComboBox()
        self.stars_combo.addItem("any stars", None)
        for n in range(1, 6):
            self.stars_combo.addItem("★" * n + " or more", n)
        self.search = QLineEdit()
        self.search.setPlaceholderText("search notes and model names")
        self.order_combo = QComboBox()
        for key, text in ORDERS:
            self.order_combo.addItem(text, key)
        self.count_label = QLabel()
        filters = QHBoxLayout()
        for widget in (QLabel("Model"), self.model_combo, QLabel("Tag"), self.tag_combo, self.stars_combo,
                       self.search, self.order_combo, self.count_label):
            filters.addWidget(widget)
        filters.setStretchFactor(self.search, 1)

        self.grid = ImageGrid(fit=False)
        self.grid.set_cell_size(170)
        self.grid.selection_changed.connect(self._on_selection)
        self.grid.opened.connect(lambda _row: self.open_selected())

        self.preview = QLabel("Star images in Explore (★ or Ctrl+S) and they appear here.")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(256, 256)
        self.preview.setWordWrap(True)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stars_spin = QSpinBox(minimum=0, maximum=5)
        self.stars_spin.setSuffix(" ★")
        self.tags_edit = QLineEdit()
        self.tags_edit.setPlaceholderText("comma-separated, e.g. blue, print")
        self.note_edit = QPlainTextEdit()
        self.note_edit.setPlaceholderText("A note for yourself")
        self.note_edit.setMaximumHeight(110)
        self.save_btn = QPushButton("Save")
        self.open_btn = QPushButton("Open in Explore")
        self.delete_btn = QPushButton("Delete")
        self.interp_btn = QPushButton("Interpolate selected")
        self.interp_btn.setToolTip("An interpolation strip through two or more selected favourites, in Explore")
        detail = QWidget()
        detail.setFixedWidth(320)
        form = QFormLayout()
        form.addRow("Stars", self.stars_spin)
        form.addRow("Tags", self.tags_edit)
        form.addRow("Note", self.note_edit)
        buttons = QHBoxLayout()
        for b in (self.save_btn, self.open_btn, self.delete_btn):
            buttons.addWidget(b)
        dv = QVBoxLayout(detail)
        dv.addWidget(self.preview)
        dv.addWidget(self.info)
        dv.addLayout(form)
        dv.addLayout(buttons)
        dv.addWidget(self.interp_btn)
        self.project_btn = QPushButton("Project a picture…")
        self.project_btn.setToolTip("Find the open model's closest image to a picture of yours; star it to keep it here")
        dv.addWidget(self.project_btn)
        dv.addStretch(1)

        body = QHBoxLayout()
        body.addWidget(self.grid, 1)
        body.addWidget(detail)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addLayout(body, 1)

        for combo in (self.model_combo, self.tag_combo, self.stars_combo, self.order_combo):
            combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.search.textChanged.connect(lambda _t: self.refresh())
        self.save_btn.clicked.connect(self.save_details)
        self.open_btn.clicked.connect(self.open_selected)
        self.delete_btn.clicked.connect(self.delete_selected)
        self.interp_btn.clicked.connect(self.interpolate_selected)
        self.project_btn.clicked.connect(self.project_picture)
        self.stars_spin.valueChanged.connect(self._on_stars)
        self._set_detail_enabled(False)

    # -- data ----------------------------------------------------------------------------------------
    @property
    def library(self):
        lib = self.session.library
        if self._unsubscribe is None:
            self._unsubscribe = lib.subscribe(lambda event, ids: self.refresh())
        return lib

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.refresh()

    def _fill_combo(self, combo: QComboBox, all_text: str, entries: list[tuple[str, object]]) -> None:
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(all_text, None)
        for text, data in entries:
            combo.addItem(text, data)
        index = combo.findData(current)
        combo.setCurrentIndex(max(index, 0))
        combo.blockSignals(False)

    def filters(self) -> dict:
        return {"model": self.model_combo.currentData(), "tag": self.tag_combo.currentData(),
                "min_stars": self.stars_combo.currentData(), "text": self.search.text().strip() or None}

    def refresh(self) -> None:
        lib = self.library
        self._fill_combo(self.model_combo, "All models",
                         [(f"{m.name or m.fingerprint[:10]} ({m.image_count})", m.fingerprint) for m in lib.models()
                          if m.image_count])
        self._fill_combo(self.tag_combo, "All tags", [(f"{t} ({n})", t) for t, n in lib.all_tags()])
        selected = set(self.selected_ids())
        try:
            images = lib.query(**self.filters(), order=self.order_combo.currentData())
        except LibraryError as exc:   # e.g. a search of hundreds of words: say so, show nothing
            self.session.status.emit(str(exc), 5000)
            images = []
        self._images = {img.id: img for img in images}
        self.grid.grid_model.set_items([img.id for img in images], [_describe(img.recipe) for img in images])
        for img in images:
            image = QImage.fromData(img.thumbnail_png)
            self.grid.grid_model.set_image(img.id, image, badge="★" * img.stars)
        self.count_label.setText(f"{len(images)} of {lib.count()}")
        for row, img in enumerate(images):
            if img.id in selected:
                self.grid.selectionModel().select(self.grid.grid_model.index(row),
                                                  self.grid.selectionModel().SelectionFlag.Select)
        self._on_selection(self.grid.selected_rows())

    # -- selection and details -------------------------------------------------------------------------
    def selected_ids(self) -> list[int]:
        return [self.grid.grid_model.items[r].tag for r in self.grid.selected_rows()]

    def _set_detail_enabled(self, on: bool) -> None:
        for w in (self.stars_spin, self.tags_edit, self.note_edit, self.save_btn, self.open_btn, self.delete_btn,
                  self.interp_btn):
            w.setEnabled(on)

    def _on_selection(self, rows: list[int]) -> None:
        ids = self.selected_ids()
        self.session.selections["library"] = [self._images[i].recipe for i in ids if self._images[i].recipe]
        self._set_detail_enabled(bool(ids))
        if not ids:
            self.info.clear()
            return
        img = self._images[ids[0]]
        pix = QPixmap.fromImage(QImage.fromData(img.thumbnail_png))
        self.preview.setPixmap(pix.scaled(256, 256, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation))
        extra = f" (+{len(ids) - 1} more selected)" if len(ids) > 1 else ""
        self.info.setText(f"<b>{img.model_name}</b> · {img.width}×{img.height}<br>{_describe(img.recipe)}<br>"
                          f"starred {img.created[:16].replace('T', ' ')} from {img.source or 'the studio'}{extra}")
        self.stars_spin.blockSignals(True)
        self.stars_spin.setValue(img.stars)
        self.stars_spin.blockSignals(False)
        self.tags_edit.setText(", ".join(img.tags))
        self.note_edit.setPlainText(img.note)

    def _on_stars(self, value: int) -> None:
        ids = self.selected_ids()
        if ids:
            self.library.set_stars(ids, value)

    def save_details(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        lib = self.library
        wanted = [t.strip() for t in self.tags_edit.text().split(",") if t.strip()]
        current = self._images[ids[0]].tags
        lib.set_note(ids[0], self.note_edit.toPlainText())
        removed = [t for t in current if t.lower() not in {w.lower() for w in wanted}]
        if removed:
            lib.remove_tags(ids, removed)
        if wanted:
            lib.add_tags(ids, wanted)
        self.session.status.emit("Saved", 2000)

    def open_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        recipe = self._images[ids[0]].recipe
        if recipe is None:
            self.session.status.emit("This image's recipe comes from a newer studio version", 5000)
            return
        self.open_recipe.emit(recipe)

    def project_picture(self) -> None:
        from studio.ui.project_dialog import ProjectDialog

        dialog = ProjectDialog(self.session, self, on_open=self.open_recipe.emit)
        dialog.finished.connect(lambda _r: self.refresh())      # a starred result shows up here
        self._project_dialog = dialog
        dialog.show()

    def interpolate_selected(self) -> None:
        recipes = [self._images[i].recipe for i in self.selected_ids() if self._images[i].recipe is not None]
        if len(recipes) < 2:
            self.session.status.emit("Select two or more favourites to interpolate between (ctrl-click)", 4000)
            return
        self.interpolate.emit(recipes)

    def delete_selected(self, confirm: bool = True) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        if confirm and QMessageBox.question(
                self, "Delete from the library",
                f"Remove {len(ids)} image{'s' * (len(ids) > 1)} from the library? Exported files are not touched."
        ) != QMessageBox.StandardButton.Yes:
            return
        self.library.delete(ids)
