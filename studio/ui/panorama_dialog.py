"""Many seeds on one canvas: lay out regions (side by side, stacked, a grid, or painted), drag seeds
from the Explore grid onto them, choose where they meet in the network, render, star or save.

The dialog is not modal: the grid stays in reach for dragging. The picture is a recipe like any other
(its regions are in it), so the Library, Export and ``studio export`` re-create it exactly.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from studio.app.panorama import default_blend
from studio.gan.recipe import Latent, Recipe, Regions
from studio.gan.region_maps import layout_labels, suggested_canvas
from studio.gan.render_settings import canvas_units
from studio.ui import jobs
from studio.ui.widgets.layout import slider_row
from studio.ui.widgets.region_canvas import RegionCanvas

RENDER_KEY = "panorama.render"
SAVE_KEY = "panorama.save"
LAYOUT_CHOICES = (("Side by side", "columns"), ("Stacked", "rows"), ("Grid", "grid"), ("Paint the regions", "paint"))
CANVAS_CHOICES = (("From the layout", None), ("2:1", "2:1"), ("3:1", "3:1"), ("16:9", "16:9"), ("4:1", "4:1"),
                  ("Square", "1:1"), ("9:16 portrait", "9:16"), ("1:2 portrait", "1:2"))
PAINT_CELLS = 16            # a painted map's cells along the canvas' long side


class PanoramaDialog(QDialog):
    """``recipe_for(seed)`` gives the page's recipe for a seed (its settings: psi, class, noise, edits...)."""

    def __init__(self, session, recipe_for, seeds: list[int], parent=None):
        super().__init__(parent)
        self.session, self.client, self.recipe_for = session, session.client, recipe_for
        self.setWindowTitle("Panorama: many seeds on one canvas")
        self.setModal(False)
        self.recipe: Recipe | None = None
        self.image: QImage | None = None
        model = session.model or {}
        v = QVBoxLayout(self)
        form = QFormLayout()
        top = QHBoxLayout()
        self.layout_combo = QComboBox()
        for text, key in LAYOUT_CHOICES:
            self.layout_combo.addItem(text, key)
        self.count_spin = QSpinBox(minimum=2, maximum=9, value=max(2, min(9, len(seeds) or 3)))
        self.count_spin.setToolTip("How many seeds share the canvas")
        top.addWidget(self.layout_combo, 1)
        top.addWidget(QLabel("Seeds"))
        top.addWidget(self.count_spin)
        form.addRow("Layout", top)
        self.canvas_combo = QComboBox()
        for text, ratio in CANVAS_CHOICES:
            self.canvas_combo.addItem(text, ratio)
        self.canvas_combo.setToolTip("The picture's shape: the network draws it natively, nothing is stretched")
        form.addRow("Canvas", self.canvas_combo)
        self.blend_combo = QComboBox()
        for res in model.get("blend_resolutions", []):
            self.blend_combo.addItem(f"{res} px", res)
        resolutions = model.get("blend_resolutions", [])
        if resolutions:
            self.blend_combo.setCurrentIndex(self.blend_combo.findData(default_blend(resolutions)))
        self.blend_combo.setToolTip("Where the regions meet in the network: early (4-8 px) = one shared composition, "
                                    "later = each region keeps its own layout and only the seams are shared")
        form.addRow("Meet at", self.blend_combo)
        self.feather, self.feather_value, feather = slider_row(
            0, 50, "10 %", tooltip="How far the regions' styles cross-fade, as a share of the canvas' short side")
        self.feather.setValue(10)
        form.addRow("Soft seams", feather)
        paint = QHBoxLayout()
        self.brush_spin = QSpinBox(minimum=1, maximum=self.count_spin.value())
        self.brush_spin.setPrefix("region ")
        self.regions_check = QCheckBox("Show regions")
        self.regions_check.setChecked(True)
        paint.addWidget(self.brush_spin)
        paint.addWidget(self.regions_check)
        paint.addStretch(1)
        self.brush_label = QLabel("Brush")
        form.addRow(self.brush_label, paint)
        v.addLayout(form)
        self.canvas = RegionCanvas()
        v.addWidget(self.canvas, 1)
        self.status = QLabel("Drag seeds from the Explore grid onto the regions")
        self.status.setWordWrap(True)
        v.addWidget(self.status)
        buttons = QHBoxLayout()
        self.star_btn, self.save_btn, close = QPushButton("★ Star"), QPushButton("Save PNG…"), QPushButton("Close")
        self.star_btn.setToolTip("Add the panorama to the Library (its recipe re-creates it, regions and all)")
        for b in (self.star_btn, self.save_btn, close):
            buttons.addWidget(b)
        v.addLayout(buttons)
        self.star_btn.setEnabled(False)
        self.save_btn.setEnabled(False)

        seeds = list(seeds) + [s for s in range(100) if s not in seeds]
        self.canvas.seeds = seeds[:9]
        self._timer = QTimer(self, singleShot=True, interval=250)
        self._timer.timeout.connect(self.render)
        self.layout_combo.currentIndexChanged.connect(lambda _i: self.relayout())
        self.count_spin.valueChanged.connect(lambda _n: self.relayout(keep_map=True))
        self.canvas_combo.currentIndexChanged.connect(lambda _i: self.relayout(keep_map=True))
        self.blend_combo.currentIndexChanged.connect(lambda _i: self.schedule())
        self.feather.valueChanged.connect(self._on_feather)
        self.brush_spin.valueChanged.connect(lambda n: setattr(self.canvas, "brush", n - 1))
        self.regions_check.toggled.connect(self._on_show_regions)
        self.canvas.labels_changed.connect(self.schedule)
        self.canvas.seed_dropped.connect(self.set_seed)
        self.star_btn.clicked.connect(self.star)
        self.save_btn.clicked.connect(lambda: self.save_png())
        close.clicked.connect(self.close)
        self.resize(760, 560)
        self.relayout()

    # -- the map ---------------------------------------------------------------------------------------
    def layout_key(self) -> str:
        return self.layout_combo.currentData()

    def canvas_ratio(self) -> tuple[int, int] | None:
        """The canvas in quarters of the side (None: square), from the combo or the layout's shape."""
        ratio = self.canvas_combo.currentData()
        if ratio is not None:
            units = canvas_units(ratio)
            return None if units == (4, 4) else units
        if self.layout_key() == "paint":
            return (8, 4)
        return suggested_canvas(layout_labels(self.layout_key(), self.count_spin.value()))

    def relayout(self, keep_map: bool = False) -> None:
        count = self.count_spin.value()
        self.brush_spin.setMaximum(count)
        painting = self.layout_key() == "paint"
        units = self.canvas_ratio() or (4, 4)
        self.canvas.aspect = units[0] / units[1]
        if painting:
            if not (keep_map and self.canvas.painting):
                cols = PAINT_CELLS if units[0] >= units[1] else max(1, round(PAINT_CELLS * units[0] / units[1]))
                rows = PAINT_CELLS if units[1] > units[0] else max(1, round(PAINT_CELLS * units[1] / units[0]))
                base = layout_labels("columns", count)[0]
                self.canvas.labels = ["".join(base[c * count // cols] for c in range(cols)) for _ in range(rows)]
            else:                                  # kept; a painted digit beyond the new count goes back to region 1
                self.canvas.labels = ["".join(ch if int(ch) < count else "0" for ch in row)
                                      for row in self.canvas.labels]
        else:
            self.canvas.labels = layout_labels(self.layout_key(), count)
        self.canvas.painting = painting
        self.brush_spin.setVisible(painting)
        self.brush_label.setVisible(painting)
        self.status.setText("Paint the regions with the brush (drag across the canvas); drop seeds onto them"
                            if painting else "Drag seeds from the Explore grid onto the regions")
        self.canvas.update()
        self.schedule()

    def set_seed(self, region: int, seed: int) -> None:
        self.canvas.seeds[region] = seed
        self.canvas.update()
        self.schedule()

    def _on_feather(self, value: int) -> None:
        self.feather_value.setText(f"{value} %")
        self.schedule()

    def _on_show_regions(self, on: bool) -> None:
        self.canvas.show_regions = on
        self.canvas.update()

    # -- the picture -----------------------------------------------------------------------------------
    def current_recipe(self) -> Recipe | None:
        if self.session.model is None or self.blend_combo.count() == 0:
            return None
        count = self.count_spin.value()
        used = sorted({int(ch) for row in self.canvas.labels for ch in row})
        seeds = self.canvas.seeds[:count]
        # regions a painted map leaves out are dropped; the digits are renumbered to the used ones
        number = {old: new for new, old in enumerate(used)}
        labels = ["".join(str(number[int(ch)]) for ch in row) for row in self.canvas.labels]
        if len(used) < 2:
            return None
        base = self.recipe_for(seeds[used[0]])
        regions = Regions(labels, [Latent(seed=seeds[i]) for i in used[1:]], int(self.blend_combo.currentData()),
                          self.feather.value() / 100)
        units = self.canvas_ratio()
        return replace(base, canvas=list(units) if units else None, regions=regions)

    def schedule(self) -> None:
        self._timer.start()

    def render(self) -> None:
        recipe = self.current_recipe()
        if recipe is None:
            self.status.setText("Give the canvas two or more regions")
            return
        self.status.setText("rendering…")
        self.star_btn.setEnabled(False)             # what is shown is about to change: star it when it has
        self.save_btn.setEnabled(False)
        self.client.submit(RENDER_KEY, jobs.render_recipe(recipe.to_json(), tag="panorama")).on(
            image=self._rendered, failed=self._failed)

    def _rendered(self, _tag, image: QImage, extra) -> None:
        self.image, self.recipe = image, Recipe.from_json(extra)
        self.canvas.image = image
        self.canvas.update()
        regions = self.recipe.regions
        self.status.setText(f"{image.width()} × {image.height()} px · {regions.count} seeds meeting at "
                            f"{regions.blend} px · drag seeds from the Explore grid onto the regions")
        self.star_btn.setEnabled(True)
        self.save_btn.setEnabled(True)

    def _failed(self, message: str) -> None:
        self.status.setText(message)
        self.session.status.emit(message, 0)
        self.recipe = self.image = None                 # nothing to star or save until a render succeeds
        self.canvas.image = None
        self.canvas.update()

    def star(self) -> None:
        if self.recipe is not None and self.image is not None:
            if self.session.star(self.recipe, self.image, source="panorama") is not None:
                self.status.setText("Starred: the panorama is in the Library")

    def save_png(self, path: str | None = None) -> None:
        if self.recipe is None:
            return
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save the panorama", "panorama.png", "PNG images (*.png)")
            if not path:
                return
        if not path.lower().endswith(".png"):
            path += ".png"
        self.client.submit(SAVE_KEY, jobs.save_recipe_png(self.recipe.to_json(), path)).on(
            finished=lambda p: self.status.setText(f"Saved {p} (its recipe is inside)"), failed=self._failed)
