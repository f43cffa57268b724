"""Style Mix: a forms x styles matrix (GANscapes' 7 x 3 by default).

Forms (layout) run across the top, styles (palette, texture) down the side; each cell keeps
its form's w except at the chosen layers, which come from its style. Forms and styles come
from seeds, the Explore selection, Library favourites, or any cell ("use as form / style").
They live in :class:`studio.app.state.MixSources` (``self.sources``); the matrix re-renders on
each of its changes.
"""

from __future__ import annotations

import random

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.app.state import MixSources
from studio.gan.mixing import describe_layers, preset_layers
from studio.gan.recipe import Recipe
from studio.gan.render_settings import RenderSettings
from studio.ui import jobs
from studio.ui.qt_compat import QLabeledRangeSlider, QLargeIntSpinBox
from studio.ui.session import StudioSession
from studio.ui.widgets.canvas_combo import CanvasCombo
from studio.ui.widgets.class_combo import fill_class_combo
from studio.ui.widgets.image_grid import ImageGrid
from studio.ui.widgets.layout import sidebar as make_sidebar
from studio.ui.widgets.truncation import TruncationControl
from studio.ui.widgets.viewer import ImageViewer

MATRIX_KEY = "mix.matrix"
SHEET_KEY = "mix.sheet"
PRESETS = [("coarse", "Layout"), ("middle", "Shapes"), ("fine", "Colour"), ("default", "Default"),
           ("position", "Position")]
PRESET_TIPS = {"coarse": "the coarse layers: composition and layout", "middle": "the middle layers: shapes and features",
               "fine": "the fine layers: colour scheme and texture", "default": "style_mixing.py's default, w 0-6",
               "position": "StyleGAN3's input: where the picture sits and how it is turned"}
SHEET_ASPECTS = [("1:1", 1.0), ("1.27:1 (GANscapes)", 1.27), ("4:3", 4 / 3), ("16:9", 16 / 9)]


def corner_image(size: int = 128) -> QImage:
    image = QImage(size, size, QImage.Format.Format_RGB888)
    image.fill(QColor(28, 28, 32))
    painter = QPainter(image)
    painter.setPen(QColor(210, 210, 210))
    painter.drawText(image.rect().adjusted(6, 6, -6, -6), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
                     "forms →")
    painter.drawText(image.rect().adjusted(6, 6, -6, -6), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                     "styles ↓")
    painter.end()
    return image


class MixPanel(QWidget):
    def __init__(self, session: StudioSession, parent=None):
        super().__init__(parent)
        self.session = session
        self.client = session.client
        self.sources = MixSources()
        self.sources.connect(self._on_sources)
        self._quiet = False                   # set while several fields change as one
        self.recipes: dict[tuple, str] = {}   # tag -> recipe JSON of what the cell shows
        self._viewer: ImageViewer | None = None

        self.grid = ImageGrid(rows=4, cols=8)
        self.grid.opened.connect(self.open_large)
        self.grid.selection_changed.connect(self._on_selection)
        sidebar = self._build_sidebar()
        scroll = make_sidebar(sidebar, 300)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(scroll)
        layout.addWidget(self.grid, 1)

        session.model_changed.connect(self._on_model)
        self.setEnabled(False)

    # -- layout ------------------------------------------------------------------------------------
    def _source_box(self, title: str, count: int, first: int) -> tuple[QGroupBox, QSpinBox, QLargeIntSpinBox]:
        box = QGroupBox(title)
        f = QFormLayout(box)
        count_spin = QSpinBox(minimum=1, maximum=8, value=count)
        seed_spin = QLargeIntSpinBox()
        seed_spin.setRange(0, 2**32 - 9)
        seed_spin.setValue(first)
        f.addRow("How many", count_spin)
        f.addRow("Seeds from", seed_spin)
        return box, count_spin, seed_spin

    def _build_sidebar(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        box, self.form_count, self.form_seed = self._source_box("Forms (layout) — across", 7, 0)
        row = QGridLayout()
        self.form_random = QPushButton("Random")
        self.form_from_explore = QPushButton("From Explore")
        self.form_from_library = QPushButton("From Library")
        for i, b in enumerate((self.form_random, self.form_from_explore, self.form_from_library)):
            row.addWidget(b, 0, i)
        box.layout().addRow(row)
        v.addWidget(box)
        box, self.style_count, self.style_seed = self._source_box("Styles (palette, texture) — down", 3, 100)
        row = QGridLayout()
        self.style_random = QPushButton("Random")
        self.style_from_explore = QPushButton("From Explore")
        self.style_from_library = QPushButton("From Library")
        for i, b in enumerate((self.style_random, self.style_from_explore, self.style_from_library)):
            row.addWidget(b, 0, i)
        box.layout().addRow(row)
        v.addWidget(box)

        layers = QGroupBox("Layers taken from the style")
        lv = QVBoxLayout(layers)
        presets = QGridLayout()                 # three to a row: the names say what the layers draw
        self.preset_buttons = {}
        for i, (key, text) in enumerate(PRESETS):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, k=key: self.set_preset(k))
            presets.addWidget(b, i // 3, i % 3)
            self.preset_buttons[key] = b
        lv.addLayout(presets)
        self.range_slider = QLabeledRangeSlider(Qt.Orientation.Horizontal)
        self.range_slider.setRange(0, 17)
        self.range_slider.setValue((0, 6))
        self.range_slider.valueChanged.connect(self._on_range)
        lv.addWidget(self.range_slider)
        self.layers_label = QLabel()
        self.layers_label.setWordWrap(True)
        lv.addWidget(self.layers_label)
        v.addWidget(layers)

        trunc = QGroupBox("Generation (forms and styles from seeds)")
        tf = QFormLayout(trunc)
        self.psi = TruncationControl(1.0)
        tf.addRow("psi", self.psi)
        self.class_combo = QComboBox()
        self.class_combo.setToolTip("The class seeds render with; images brought in keep their own")
        self.class_label = QLabel("Class")
        tf.addRow(self.class_label, self.class_combo)
        self.canvas_combo = CanvasCombo()
        self.canvas_label = QLabel("Canvas")
        tf.addRow(self.canvas_label, self.canvas_combo)
        self.tile_check = QCheckBox("Seamless tile")
        self.tile_check.setToolTip("Every image becomes one period of a texture that repeats without a seam")
        tf.addRow(self.tile_check)
        v.addWidget(trunc)

        cell = QGroupBox("Selected cell")
        cv = QGridLayout(cell)
        self.as_form = QPushButton("Use as form")
        self.as_style = QPushButton("Use as style")
        self.star_btn = QPushButton("★ Star")
        self.view_btn = QPushButton("View large")
        for i, b in enumerate((self.as_form, self.as_style, self.star_btn, self.view_btn)):
            cv.addWidget(b, i // 2, i % 2)
        v.addWidget(cell)

        sheet = QGroupBox("Contact sheet")
        sf = QFormLayout(sheet)
        self.sheet_width = QSpinBox(minimum=64, maximum=2048, value=256, suffix=" px")
        self.sheet_aspect = QComboBox()
        for text, ratio in SHEET_ASPECTS:
            self.sheet_aspect.addItem(text, ratio)
        self.sheet_btn = QPushButton("Export sheet…")
        sf.addRow("Cell width", self.sheet_width)
        sf.addRow("Cell aspect", self.sheet_aspect)
        sf.addRow(self.sheet_btn)
        v.addWidget(sheet)
        v.addStretch(1)

        self.form_count.valueChanged.connect(lambda _v: self._reseed("form"))
        self.form_seed.valueChanged.connect(lambda _v: self._reseed("form"))
        self.style_count.valueChanged.connect(lambda _v: self._reseed("style"))
        self.style_seed.valueChanged.connect(lambda _v: self._reseed("style"))
        self.form_random.clicked.connect(lambda: self.form_seed.setValue(random.randrange(0, 2**31)))
        self.style_random.clicked.connect(lambda: self.style_seed.setValue(random.randrange(0, 2**31)))
        self.form_from_explore.clicked.connect(lambda: self.take_selection("form", "explore"))
        self.style_from_explore.clicked.connect(lambda: self.take_selection("style", "explore"))
        self.form_from_library.clicked.connect(lambda: self.take_selection("form", "library"))
        self.style_from_library.clicked.connect(lambda: self.take_selection("style", "library"))
        self.psi.value_changed.connect(lambda value: setattr(self.sources, "truncation_psi", value))
        self.canvas_combo.currentIndexChanged.connect(
            lambda _i: setattr(self.sources, "canvas", self.canvas_combo.units()))
        self.tile_check.toggled.connect(lambda on: setattr(self.sources, "tile", bool(on)))
        self.class_combo.currentIndexChanged.connect(
            lambda _i: setattr(self.sources, "class_index", self.class_combo.currentData()))
        self.as_form.clicked.connect(lambda: self.promote("form"))
        self.as_style.clicked.connect(lambda: self.promote("style"))
        self.star_btn.clicked.connect(self.star_selection)
        self.view_btn.clicked.connect(lambda: self.open_large(self._first_selected()))
        self.sheet_btn.clicked.connect(lambda: self.export_sheet())   # not clicked(bool) as the path
        return w

    # -- model and sources ---------------------------------------------------------------------------
    def _on_model(self, info: dict) -> None:
        self.setEnabled(True)
        num_ws, scales = info["num_ws"], info.get("layer_scales")
        for key, text in PRESETS:
            layers = preset_layers(key, num_ws, scales)
            button = self.preset_buttons[key]
            button.setText(f"{text} {describe_layers(layers)}" if layers else f"{text} (none)")
            button.setEnabled(bool(layers))      # a small model may have no fine layers at all
            button.setVisible(key != "position" or bool(info.get("has_view")))
            button.setToolTip(f"{PRESET_TIPS[key]}: w layers {describe_layers(layers)} of {num_ws}" if layers
                              else f"this {num_ws}-layer model has no {text.lower()} layers")
        self.range_slider.blockSignals(True)
        self.range_slider.setRange(0, num_ws - 1)
        self.range_slider.blockSignals(False)
        self.recipes.clear()
        self._rendering = None
        self.grid.grid_model.set_items([], [])    # the old model's tiles go at once
        fill_class_combo(self.class_combo, info)
        conditional = info["c_dim"] > 0
        self.class_combo.setVisible(conditional)
        self.class_label.setVisible(conditional)
        for widget, shown in ((self.canvas_combo, info.get("can_widen")), (self.canvas_label, info.get("can_widen")),
                              (self.tile_check, info.get("can_tile"))):
            widget.setVisible(bool(shown))
        self._quiet = True
        try:
            if not info.get("can_widen"):
                self.canvas_combo.setCurrentIndex(0)
            if not info.get("can_tile"):
                self.tile_check.setChecked(False)
            self.sources.class_index = self.class_combo.currentData() if conditional else None
            self._reseed("form")
            self._reseed("style")
        finally:
            self._quiet = False
        self.set_preset("default")

    @property
    def forms(self) -> list[dict]:
        return self.sources.forms

    @property
    def styles(self) -> list[dict]:
        return self.sources.styles

    @property
    def layers(self) -> list[int]:
        return self.sources.layers

    def _on_sources(self, name: str, value) -> None:
        counts = {"forms": self.form_count, "styles": self.style_count}
        if name in counts:                       # "How many" tells the truth after images came in
            counts[name].blockSignals(True)
            counts[name].setValue(len(value))
            counts[name].blockSignals(False)
        if name == "layers" and value:
            self.range_slider.blockSignals(True)
            self.range_slider.setValue((value[0], value[-1]))
            self.range_slider.blockSignals(False)
            self.layers_label.setText(f"Styles give w layers {describe_layers(value)}; forms keep the rest.")
        if name == "canvas":
            self.grid.set_aspect(value[0] / value[1] if value else 1.0)
        if not self._quiet:
            self.render()

    def _reseed(self, which: str) -> None:
        count = (self.form_count if which == "form" else self.style_count).value()
        first = int((self.form_seed if which == "form" else self.style_seed).value())
        self.sources.seeds(which, first, count)

    def set_sources(self, which: str, recipes: list[Recipe]) -> None:
        """Forms or styles from images (Explore selection, favourites): each keeps its own look."""
        if not recipes:
            self.session.status.emit("Select some images first", 3000)
            return
        self.sources.recipes(which, recipes)

    def take_selection(self, which: str, panel: str) -> None:
        recipes = self.session.selections.get(panel, [])
        if not recipes:
            where = "Explore" if panel == "explore" else "the Library"
            self.session.status.emit(f"Select images in {where} first", 4000)
            return
        self.set_sources(which, recipes)

    def promote(self, which: str) -> None:
        tag = self._selected_tag()
        if tag is None or tag not in self.recipes:
            self.session.status.emit("Select a rendered image in the matrix first", 3000)
            return
        self.sources.promote(which, self.recipes[tag])

    # -- layers ---------------------------------------------------------------------------------------
    def set_preset(self, key: str) -> None:
        model = self.session.model or {}
        self.set_layers(preset_layers(key, model.get("num_ws", 18), model.get("layer_scales")))

    def set_layers(self, layers: list[int]) -> None:
        if sorted(set(layers)) == self.sources.layers:   # the same layers (a new model): show and render anyway
            self._on_sources("layers", self.sources.layers)
        self.sources.layers = layers

    def _on_range(self, value) -> None:
        low, high = int(value[0]), int(value[1])
        self.set_layers(list(range(low, high + 1)))

    # -- rendering -------------------------------------------------------------------------------------
    def settings(self) -> RenderSettings:
        return self.sources.settings()

    def render(self) -> None:
        """Re-render the matrix now if the panel is on screen, else when it is next shown."""
        if self.session.model is None:
            return
        if not self.isVisible():
            self._dirty = True
            return
        self._dirty = False
        n_f, n_s = len(self.forms), len(self.styles)
        tags = [("corner",)] + [("form", i) for i in range(n_f)]
        labels = [""] + [f"F{i + 1}" for i in range(n_f)]
        for j in range(n_s):
            tags += [("style", j)] + [("cell", i, j) for i in range(n_f)]
            labels += [f"S{j + 1}"] + [f"F{i + 1}·S{j + 1}" for i in range(n_f)]
        fresh = self._unchanged_tags()
        same_shape = [item.tag for item in self.grid.grid_model.items] == tags
        self.grid.grid_model.set_items(tags, labels, keep_images=same_shape, fresh=fresh)
        self.grid.grid_model.set_image(("corner",), corner_image())
        self.grid.set_shape(n_s + 1, n_f + 1)
        skip = [tag for tag in fresh if self.grid.grid_model.row_of(tag) is not None]
        self._rendering = (list(self.forms), list(self.styles), list(self.layers), self.settings())
        self.client.submit(MATRIX_KEY, jobs.render_mix_matrix(self.forms, self.styles, self.layers, self.settings(),
                                                              skip)).on(
            image=self._on_image, failed=lambda message: self.session.status.emit(message, 0))

    def _unchanged_tags(self) -> set:
        """Tags whose image would come out the same as the one shown: same form and style in the
        same place, same layers and settings (so Use as form renders one new column, not the matrix)."""
        last = getattr(self, "_rendering", None)
        if last is None or last[2:] != (list(self.layers), self.settings()):
            return set()
        old_forms, old_styles = last[0], last[1]
        forms = {i for i, spec in enumerate(self.forms) if i < len(old_forms) and old_forms[i] == spec}
        styles = {j for j, spec in enumerate(self.styles) if j < len(old_styles) and old_styles[j] == spec}
        shown = {item.tag for item in self.grid.grid_model.items if item.image is not None and not item.stale}
        tags = {("form", i) for i in forms} | {("style", j) for j in styles}
        tags |= {("cell", i, j) for i in forms for j in styles}
        return {tag for tag in tags if tag in shown and tag in self.recipes}

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if getattr(self, "_dirty", False):
            self.render()

    def _on_image(self, tag, image: QImage, extra) -> None:
        self.recipes[tag] = extra
        row = self.grid.grid_model.set_image(tag, image)
        if self._viewer is not None and row == self._viewer.row:
            self._viewer.refresh()

    # -- selection -----------------------------------------------------------------------------------
    def _on_selection(self, rows: list[int]) -> None:
        tags = [self.grid.grid_model.items[r].tag for r in rows]
        self.session.selections["mix"] = [Recipe.from_json(self.recipes[t]) for t in tags if t in self.recipes]

    def _first_selected(self) -> int:
        rows = self.grid.selected_rows()
        return rows[0] if rows else 0

    def _selected_tag(self):
        rows = self.grid.selected_rows()
        return self.grid.grid_model.items[rows[0]].tag if rows else None

    def open_large(self, row: int) -> None:
        model = self.grid.grid_model
        if not model.items or model.items[row].tag == ("corner",):
            return

        def fetch(r: int):
            item = model.items[r]
            return item.image, f"{item.label} · styles take layers {describe_layers(self.layers)}"

        self._viewer = ImageViewer(fetch, len(model.items), row, columns=len(self.forms) + 1,
                                   star=lambda r: self._star_rows([r]), parent=self)
        self._viewer.row_changed.connect(self.grid.select_row)
        self._viewer.finished.connect(lambda _r: setattr(self, "_viewer", None))
        self._viewer.show()

    def star_selection(self) -> None:
        self._star_rows(self.grid.selected_rows())

    def _star_rows(self, rows: list[int]) -> None:
        for r in rows:
            item = self.grid.grid_model.items[r]
            if item.tag in self.recipes and item.image is not None and not item.stale:
                if self.session.star(Recipe.from_json(self.recipes[item.tag]), item.image, source="mix") is not None:
                    self.grid.grid_model.set_badge(r, "★")

    # -- sheet ---------------------------------------------------------------------------------------
    def sheet_images(self):
        """The current matrix as numpy arrays: forms, styles and cells[(style, form)]."""
        from studio.ui.widgets.image_grid import qimage_to_array

        model = self.grid.grid_model
        get = {item.tag: item.image for item in model.items}
        missing = [t for t, img in get.items() if img is None]
        if missing:
            raise ValueError("the matrix is still rendering")
        forms = [qimage_to_array(get[("form", i)]) for i in range(len(self.forms))]
        styles = [qimage_to_array(get[("style", j)]) for j in range(len(self.styles))]
        cells = {(j, i): qimage_to_array(get[("cell", i, j)])
                 for i in range(len(self.forms)) for j in range(len(self.styles))}
        return forms, styles, cells

    def export_sheet(self, path: str | None = None) -> None:
        try:
            forms, styles, cells = self.sheet_images()
        except ValueError as exc:
            self.session.status.emit(str(exc), 3000)
            return
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export contact sheet", "style-mix.png", "PNG (*.png)")
            if not path:
                return
        width = self.sheet_width.value()
        height = round(width / self.sheet_aspect.currentData())
        self.client.submit(SHEET_KEY, jobs.write_mix_sheet(forms, styles, cells, (width, height), path)).on(
            finished=lambda result: self.session.status.emit(f"Saved the sheet {result}", 5000),
            failed=lambda message: self.session.status.emit(message, 0))
