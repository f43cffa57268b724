"""Explore: a grid of consecutive seeds, truncation, class and noise, the large view, interpolation.

The seeds' loop — generate a page, pick one, view it large — is: the grid fills as images
render; click selects (ctrl/shift extend); double-click or Enter opens the large view, where the
arrow keys walk through the neighbours.

What the page shows lives in :class:`studio.app.state.ExplorePage` (``self.page_state``): the
widgets set its fields and follow its changes, and any change that alters the picture asks for
a render of the newest state (coalesced: a dragged slider renders once it rests).
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.app.state import ExplorePage
from studio.clip import vocabulary
from studio.gan.recipe import Recipe
from studio.gan.render_settings import RenderSettings
from studio.gan.seeds import MAX_SEED
from studio.ui import jobs
from studio.ui.qt_compat import QLargeIntSpinBox
from studio.ui.session import StudioSession
from studio.ui.widgets.canvas_combo import CanvasCombo
from studio.ui.widgets.class_combo import fill_class_combo
from studio.ui.widgets.image_grid import ImageGrid
from studio.ui.widgets.layout import sidebar as make_sidebar
from studio.ui.widgets.layout import slider_row
from studio.ui.widgets.prompt_hint import PromptHint
from studio.ui.widgets.truncation import TruncationControl
from studio.ui.widgets.upscaler import UpscalerChoice
from studio.ui.widgets.viewer import ImageViewer

GRID_KEY = "explore.grid"
STRIP_KEY = "explore.strip"
EXPORT_KEY = "explore.export"
RECIPE_KEY = "explore.recipe"
FIND_KEY = "explore.find"
EDIT_KEY = "explore.directions"
EDIT_SLIDERS = 5            # directions with a slider in the Edit box
EDIT_RANGE = 30             # slider steps each way: +-3.0 standard deviations in tenths
NOISE_MODES = [("const", "Stored (const)"), ("random", "Random, seeded"), ("none", "None")]
ALL_CLASSES = "all"         # the Class choice that shows every class, a row each


def repeat_3x3(image: QImage) -> QImage:
    """A tile drawn three times across and down: how a seamless texture looks repeated."""
    from PySide6.QtGui import QPainter

    out = QImage(image.width() * 3, image.height() * 3, image.format())
    painter = QPainter(out)
    for r in range(3):
        for c in range(3):
            painter.drawImage(c * image.width(), r * image.height(), image)
    painter.end()
    return out


class ExplorePanel(QWidget):
    """Signals: ``selection_changed(list[Recipe])`` so other panels can take the selection."""

    selection_changed = Signal(list)

    def __init__(self, session: StudioSession, parent=None):
        super().__init__(parent)
        self.session = session
        self._hint_clip: str | None = None      # the CLIP whose vocabulary the prompt hint holds
        self.client = session.client
        self.page_state = ExplorePage()
        self.page_state.connect(self._on_state)
        self._viewer: ImageViewer | None = None
        self._recipe_shown: Recipe | None = None   # an explicit-latent image in the large view (editable)
        self._shown: tuple | None = None
        self._strip_request: dict | None = None

        self.grid = ImageGrid(rows=3, cols=7, drag_seeds=True)
        self.grid.opened.connect(self.open_large)
        self.grid.selection_changed.connect(self._on_selection)

        self.strip = ImageGrid(rows=1, cols=12, fit=False)
        self.strip.set_cell_size(110)
        self.strip.setFlow(ImageGrid.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setFixedHeight(130)
        self.strip.opened.connect(self._open_strip_frame)
        self.strip_box = self._build_strip_box()
        self.strip_box.hide()

        sidebar = self._build_sidebar()
        scroll = make_sidebar(sidebar, 300)

        center = QWidget()
        cl = QVBoxLayout(center)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.grid, 1)
        cl.addWidget(self.strip_box)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(scroll)
        layout.addWidget(center, 1)

        self._play_timer = QTimer(self)
        self._play_timer.timeout.connect(self._advance_play)
        self._render_timer = QTimer(self, singleShot=True, interval=0)
        self._render_timer.timeout.connect(self.render_grid)

        session.model_changed.connect(self._on_model)
        QShortcut(QKeySequence("Ctrl+Right"), self, self.next_page)
        QShortcut(QKeySequence("Ctrl+Left"), self, self.prev_page)
        QShortcut(QKeySequence("Ctrl+S"), self, self.star_selection)
        self.setEnabled(False)

    # -- layout ------------------------------------------------------------------------------------
    def _build_sidebar(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)

        seeds = QGroupBox("Seeds")
        f = QFormLayout(seeds)
        self.rows_spin = QSpinBox(minimum=1, maximum=8, value=3)
        self.cols_spin = QSpinBox(minimum=1, maximum=8, value=7)
        shape = QHBoxLayout()
        shape.addWidget(self.rows_spin)
        shape.addWidget(QLabel("×"))
        shape.addWidget(self.cols_spin)
        f.addRow("Rows × columns", shape)
        nav = QHBoxLayout()
        self.prev_btn = QPushButton("◀")
        self.next_btn = QPushButton("▶")
        for button in (self.prev_btn, self.next_btn):       # room for "seeds 4,294,967,275–4,294,967,295"
            button.setFixedWidth(36)
        self.prev_btn.setToolTip("Previous page (Ctrl+Left)")
        self.next_btn.setToolTip("Next page (Ctrl+Right)")
        self.page_label = QLabel()
        nav.addWidget(self.prev_btn)
        nav.addWidget(self.page_label, 1, Qt.AlignmentFlag.AlignCenter)
        nav.addWidget(self.next_btn)
        f.addRow(nav)
        jump = QHBoxLayout()
        self.seed_spin = QLargeIntSpinBox()
        self.seed_spin.setRange(0, MAX_SEED)
        self.go_btn = QPushButton("Go")
        jump.addWidget(self.seed_spin, 1)
        jump.addWidget(self.go_btn)
        f.addRow("Go to seed", jump)
        self.random_btn = QPushButton("Random page")
        f.addRow(self.random_btn)
        v.addWidget(seeds)

        trunc = QGroupBox("Truncation")
        f = QFormLayout(trunc)
        self.psi = TruncationControl(1.0)
        f.addRow("psi", self.psi)
        self.cutoff_spin = QSpinBox(minimum=0, maximum=64, value=0)
        self.cutoff_spin.setSpecialValueText("all layers")
        self.cutoff_spin.setToolTip("Truncate only the first N w layers (coarse features); 'all layers' = every layer")
        f.addRow("Cutoff", self.cutoff_spin)
        v.addWidget(trunc)

        cond = QGroupBox("Generation")
        f = QFormLayout(cond)
        self.class_combo = QComboBox()
        self.class_label = QLabel("Class")
        f.addRow(self.class_label, self.class_combo)
        self.noise_combo = QComboBox()
        for mode, text in NOISE_MODES:
            self.noise_combo.addItem(text, mode)
        self.noise_combo.setToolTip("Per-pixel noise: the model's stored noise, fresh noise seeded by each "
                                    "image's seed, or none (smoother)")
        f.addRow("Noise", self.noise_combo)
        self.canvas_combo = CanvasCombo()
        self.canvas_label = QLabel("Canvas")
        f.addRow(self.canvas_label, self.canvas_combo)
        self.panorama_btn = QPushButton("Panorama: several seeds on one canvas…")
        self.panorama_btn.setToolTip("Lay regions over a wide canvas and drag seeds from the grid onto them; the "
                                     "network blends them where they meet (StyleGAN2 and SWAGAN models)")
        self.panorama_btn.clicked.connect(self.open_panorama)
        f.addRow(self.panorama_btn)
        self.tile_check = QCheckBox("Seamless tile")
        self.tile_check.setToolTip("Every picture becomes one period of a texture that repeats without a seam "
                                   "(fabric, wallpaper, game textures); the large view shows it 3 x 3")
        f.addRow(self.tile_check)
        v.addWidget(cond)

        self.view_box = QGroupBox("View (StyleGAN3)")
        f = QFormLayout(self.view_box)
        self.translate_x = QDoubleSpinBox(minimum=-10.0, maximum=10.0, singleStep=0.05, decimals=3)
        self.translate_y = QDoubleSpinBox(minimum=-10.0, maximum=10.0, singleStep=0.05, decimals=3)
        self.rotate_spin = QDoubleSpinBox(minimum=-360.0, maximum=360.0, singleStep=5.0, decimals=1, suffix="°")
        for spin in (self.translate_x, self.translate_y):
            spin.setToolTip("Move the view (1 = one picture's width), as NVIDIA's gen_images.py --translate")
        self.rotate_spin.setToolTip("Turn the view, as gen_images.py --rotate")
        move = QHBoxLayout()
        move.addWidget(self.translate_x)
        move.addWidget(self.translate_y)
        f.addRow("Move x, y", move)
        self.view_reset = QPushButton("Reset")
        turn = QHBoxLayout()
        turn.addWidget(self.rotate_spin, 1)
        turn.addWidget(self.view_reset)
        f.addRow("Rotate", turn)
        self.view_box.hide()
        v.addWidget(self.view_box)
        v.addWidget(self._build_edit_box())

        sel = QGroupBox("Selection")
        sv = QVBoxLayout(sel)
        self.selection_label = QLabel("Click an image; ctrl/shift-click to pick several.")
        self.selection_label.setWordWrap(True)
        sv.addWidget(self.selection_label)
        row = QHBoxLayout()
        self.view_btn = QPushButton("View large")
        self.star_btn = QPushButton("★ Star")
        self.star_btn.setToolTip("Add the selected images to the Library (Ctrl+S)")
        row.addWidget(self.view_btn)
        row.addWidget(self.star_btn)
        sv.addLayout(row)
        self.project_btn = QPushButton("Project a picture…")
        self.project_btn.setToolTip("Find the model's closest image to a picture of yours, to edit, export or evolve")
        self.project_btn.clicked.connect(self.project_picture)
        sv.addWidget(self.project_btn)
        v.addWidget(sel)

        find = QGroupBox("Find by prompt (CLIP)")
        f = QFormLayout(find)
        self.find_prompt = QLineEdit()
        self.find_prompt.setPlaceholderText("e.g. an abstract painting with orange triangles")
        self.find_count = QSpinBox(minimum=2, maximum=100000, value=1000, singleStep=100)
        self.find_top = QSpinBox(minimum=1, maximum=64, value=6)
        self.find_btn = QPushButton("Find")
        self.find_stop = QPushButton("Stop")
        self.find_stop.setEnabled(False)
        self.find_hint = PromptHint()
        self.find_prompt.textChanged.connect(self._check_find_prompt)
        f.addRow("Prompt", self.find_prompt)
        f.addRow("Seeds to try", self.find_count)
        f.addRow("Keep the best", self.find_top)
        row = QHBoxLayout()
        row.addWidget(self.find_btn)
        row.addWidget(self.find_stop)
        f.addRow(row)
        f.addRow(self.find_hint)             # below the buttons: a hint that appears never moves them
        self.find_btn.setToolTip("Render this page's seeds onward, score them against the prompt with the CLIP "
                                 "chosen in Evolve, and show the best, ranked (GANscapes' way)")
        v.addWidget(find)

        interp = QGroupBox("Interpolation")
        f = QFormLayout(interp)
        self.frames_spin = QSpinBox(minimum=2, maximum=2000, value=24)
        f.addRow("Frames", self.frames_spin)
        self.space_combo = QComboBox()
        self.space_combo.addItem("Linear in W", "w")
        self.space_combo.addItem("Spherical in Z", "z")
        f.addRow("Path", self.space_combo)
        self.loop_check = QCheckBox("Loop back to the start")
        f.addRow(self.loop_check)
        self.easing_combo = QComboBox()
        self.easing_combo.addItem("Even", "linear")
        self.easing_combo.addItem("Ease in and out of each image", "ease")
        f.addRow("Timing", self.easing_combo)
        self.interp_btn = QPushButton("Interpolate selected")
        self.interp_btn.setToolTip("Select two or more images, then make a strip of frames between them")
        f.addRow(self.interp_btn)
        v.addWidget(interp)
        v.addStretch(1)

        state = self.page_state
        self.rows_spin.valueChanged.connect(lambda _v: state.reshape(self.rows_spin.value(), self.cols_spin.value()))
        self.cols_spin.valueChanged.connect(lambda _v: state.reshape(self.rows_spin.value(), self.cols_spin.value()))
        self.prev_btn.clicked.connect(self.prev_page)
        self.next_btn.clicked.connect(self.next_page)
        self.go_btn.clicked.connect(lambda: self.go_to_seed(int(self.seed_spin.value())))
        self.random_btn.clicked.connect(self.random_page)
        self.psi.value_changed.connect(lambda value: setattr(state, "truncation_psi", value))
        self.cutoff_spin.valueChanged.connect(lambda value: setattr(state, "truncation_cutoff", value or None))
        self.class_combo.currentIndexChanged.connect(lambda _i: self._on_class_choice())
        self.noise_combo.currentIndexChanged.connect(
            lambda _i: setattr(state, "noise_mode", self.noise_combo.currentData()))
        self.tile_check.toggled.connect(lambda on: setattr(state, "tile", bool(on)))
        self.canvas_combo.currentIndexChanged.connect(lambda _i: setattr(state, "canvas", self.canvas_combo.units()))
        self.translate_x.valueChanged.connect(lambda value: setattr(state, "translate_x", value))
        self.translate_y.valueChanged.connect(lambda value: setattr(state, "translate_y", value))
        self.rotate_spin.valueChanged.connect(lambda value: setattr(state, "rotate", value))
        self.view_reset.clicked.connect(state.reset_view)
        self.view_btn.clicked.connect(lambda: self.open_large(self._first_selected()))
        self.star_btn.clicked.connect(self.star_selection)
        self.interp_btn.clicked.connect(lambda: self.make_strip())
        self.find_btn.clicked.connect(self.find)
        self.find_prompt.returnPressed.connect(self.find)
        self.find_stop.clicked.connect(lambda: self.client.cancel(FIND_KEY))
        return w

    def _build_edit_box(self) -> QWidget:
        """Sliders for the model's strongest latent directions; their edits apply to every seed shown
        and go into every recipe (stars, exports, the library re-create them)."""
        box = QGroupBox("Edit (latent directions)")
        f = QFormLayout(box)
        self.edit_method = QComboBox()
        self.edit_method.addItem("SeFa (instant)", "sefa")
        self.edit_method.addItem("GANSpace (10,000 samples)", "ganspace")
        self.edit_method.addItem("Your taste (Library ★, Evolve's choices)", "taste")
        self.edit_method.addItem("Toward the Find prompt (CLIP)", "clip")
        self.edit_method.setToolTip("SeFa: the directions the style layers stretch most (no data). GANSpace: the "
                                    "main axes of many sampled latents (computed once per model, then cached). Your "
                                    "taste: from what this model makes toward the images of it you starred. CLIP: "
                                    "toward the prompt typed under Find by prompt")
        self.edit_layers = QComboBox()
        for key, text in (("all", "All layers"), ("layout", "Layout (coarse)"), ("shapes", "Shapes (middle)"),
                          ("colour", "Colour (fine)"), ("custom", "Any range…")):
            self.edit_layers.addItem(text, key)
        self.edit_layers.setToolTip("The w layers the directions act on (the model's real indices); Any range… "
                                    "asks for them, e.g. 0-3,8")
        f.addRow("Directions", self.edit_method)
        f.addRow("Acting on", self.edit_layers)
        self.edit_sliders, self.edit_labels, self.edit_values = [], [], []
        for k in range(EDIT_SLIDERS):
            slider, value, row = slider_row(
                -EDIT_RANGE, EDIT_RANGE, "0.0", 32,
                "Move every picture along this direction (standard deviations of the model's w)")
            label = QLabel(f"#{k}")
            f.addRow(label, row)
            slider.valueChanged.connect(lambda _v, k=k: self._on_edit_slider(k))
            self.edit_sliders.append(slider)
            self.edit_labels.append(label)
            self.edit_values.append(value)
        self.edit_reset = QPushButton("Reset edits")
        self.edit_sweep = QPushButton("Sweep ▶")
        self.edit_sweep.setToolTip("An edit animation: the selected picture moved along the last slider's direction "
                                   "from -3 to +3 sigmas and back, in the strip below (export it as MP4 or GIF)")
        self.edit_status = QLabel()
        self.edit_status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.edit_reset)
        buttons.addWidget(self.edit_sweep)
        f.addRow(buttons)
        self.saved_combo = QComboBox()
        self.saved_combo.setToolTip("Edits you saved for this model: choosing one applies it to the page")
        self.save_edit_btn = QPushButton("Save…")
        self.save_edit_btn.setToolTip("Keep the current edits under a name, for this model")
        saved = QHBoxLayout()
        saved.addWidget(self.saved_combo, 1)
        saved.addWidget(self.save_edit_btn)
        f.addRow("Saved", saved)
        f.addRow(self.edit_status)
        self.directions: list[dict] = []
        self.edit_method.currentIndexChanged.connect(lambda _i: self.load_directions())
        self.edit_layers.currentIndexChanged.connect(lambda _i: self._on_edit_layers())
        self.edit_reset.clicked.connect(self.reset_edits)
        self.edit_sweep.clicked.connect(lambda: self.sweep())   # not clicked(bool) as the amount
        self.save_edit_btn.clicked.connect(lambda: self.save_edits())
        self.saved_combo.activated.connect(lambda _i: self.apply_saved(self.saved_combo.currentData()))
        self._last_slider = 0
        return box

    def _on_edit_layers(self, text: str | None = None) -> None:
        """'Any range…' asks which w layers (e.g. 0-3,8) and keeps the answer as a choice of its own."""
        if self.edit_layers.currentData() == "custom":
            if text is None:
                from PySide6.QtWidgets import QInputDialog

                count = self.session.model["num_ws"] if self.session.model else 0
                text, ok = QInputDialog.getText(self, "Layers", f"w layers 0-{count - 1} the directions act on "
                                                                f"(e.g. 0-3,8):")
                if not ok or not text.strip():
                    self.edit_layers.setCurrentIndex(0)
                    return
            self.edit_layers.blockSignals(True)
            self.edit_layers.insertItem(self.edit_layers.count() - 1, f"Layers {text.strip()}", text.strip())
            self.edit_layers.setCurrentIndex(self.edit_layers.count() - 2)
            self.edit_layers.blockSignals(False)
        self.load_directions()

    def load_directions(self) -> None:
        """Find the model's directions for the chosen method and layers (on the worker)."""
        if self.session.model is None:
            return
        method, layers = self.edit_method.currentData(), self.edit_layers.currentData()
        klass = self.page_state.class_index
        if method == "taste":
            job = jobs.taste_direction(str(self.session.library.path), klass, layers)
        elif method == "clip":
            prompt = self.find_prompt.text().strip()
            if not prompt:
                self._on_directions_failed("Type a prompt under Find by prompt: the direction leads toward it")
                return
            spec, config = self._clip_choice()
            job = jobs.prompt_direction(prompt, spec, config, klass)
        else:
            job = jobs.find_directions(method, layers, EDIT_SLIDERS, klass)
        self.edit_status.setText("finding directions…")
        for slider in self.edit_sliders:
            slider.setEnabled(False)
        self.client.submit(EDIT_KEY, job).on(finished=self._on_directions, failed=self._on_directions_failed)

    def _on_directions(self, found) -> None:
        self.directions = list(found or [])
        with self._bound():
            for k, slider in enumerate(self.edit_sliders):
                slider.blockSignals(True)
                slider.setValue(0)
                slider.blockSignals(False)
                slider.setEnabled(k < len(self.directions))
                self.edit_labels[k].setText(self.directions[k]["name"] if k < len(self.directions) else "—")
                self.edit_values[k].setText("0.0")
        self.edit_status.setText("" if self.directions else "no directions for this model")
        self._apply_sliders()

    def _on_directions_failed(self, message: str) -> None:
        self.directions = []
        self.edit_status.setText(message)
        for slider in self.edit_sliders:
            slider.setEnabled(False)

    def _fill_saved(self) -> None:
        from studio.app.edits import saved_edits

        self.saved_combo.clear()
        self.saved_combo.addItem("—", None)
        if self.session.model is not None:
            for name in sorted(saved_edits(self.session.model["fingerprint"])):
                self.saved_combo.addItem(name, name)

    def save_edits(self, name: str | None = None) -> None:
        from PySide6.QtWidgets import QInputDialog

        from studio.app.edits import save_edits

        if name is None:
            name, ok = QInputDialog.getText(self, "Save edits", "A name for these edits:")
            if not ok:
                return
        try:
            save_edits(self.session.model["fingerprint"], name, self.page_state.edits)
        except (ValueError, OSError) as exc:
            self.session.status.emit(f"Could not save the edits: {exc}", 5000)
            return
        self._fill_saved()
        self.saved_combo.setCurrentIndex(self.saved_combo.findData(name.strip()))
        self.session.status.emit(f"Saved the edits as '{name.strip()}' for {self.session.model['name']}", 4000)

    def apply_saved(self, name: str | None) -> None:
        """A saved stack replaces the page's edits (the sliders show the ones they hold)."""
        from studio.app.edits import saved_edits

        if not name or self.session.model is None:
            return
        edits = saved_edits(self.session.model["fingerprint"]).get(name, [])
        for k, (slider, d) in enumerate(zip(self.edit_sliders, self.directions)):
            match = next((e for e in edits if e.name == d["name"]), None)
            slider.blockSignals(True)
            slider.setValue(round(match.amount * 10) if match else 0)
            slider.blockSignals(False)
            self.edit_values[k].setText(f"{slider.value() / 10:+.1f}")
        self.page_state.edits = tuple(edits)

    def sweep(self, amount: float = 3.0) -> None:
        """The edit animation of the last slider moved (the first by default) on the selected picture."""
        from dataclasses import replace

        from studio.gan.recipe import Edit

        if not self.directions:
            self.session.status.emit("No directions yet: choose how to find them above", 4000)
            return
        d = self.directions[min(self._last_slider, len(self.directions) - 1)]
        seeds = self.selected_seeds() or self.page_seeds()[:1]
        base = self.recipe_for(seeds[0])
        others = [e for e in base.edits if e.name != d["name"]]
        keys = [{"recipe": replace(base, edits=others + [Edit(d["name"], d["vector"], a, d["layers"])]).to_json()}
                for a in (-amount, amount)]
        self.make_strip(keys, loop=True, space="w")

    def _on_edit_slider(self, k: int) -> None:
        self._last_slider = k
        self.edit_values[k].setText(f"{self.edit_sliders[k].value() / 10:+.1f}")
        self._apply_sliders()

    def _apply_sliders(self) -> None:
        """The sliders' edits (stacked, in slider order) become the page's edits."""
        from studio.gan.recipe import Edit

        edits = []
        for slider, d in zip(self.edit_sliders, self.directions):
            if slider.value():
                edits.append(Edit(d["name"], d["vector"], slider.value() / 10, d["layers"]))
        self.page_state.edits = tuple(edits)

    def reset_edits(self) -> None:
        for slider in self.edit_sliders:
            slider.blockSignals(True)
            slider.setValue(0)
            slider.blockSignals(False)
        for label in self.edit_values:
            label.setText("0.0")
        self.page_state.edits = ()

    def open_panorama(self) -> None:
        from studio.ui.panorama_dialog import PanoramaDialog

        if self.session.model is None:
            return
        dialog = getattr(self, "_panorama", None)
        if dialog is None or not dialog.isVisible():
            if dialog is not None:
                dialog.deleteLater()                # a closed one is not kept: the next opens on the new selection
            self._panorama = PanoramaDialog(self.session, self.recipe_for, self.selected_seeds(), parent=self)
        self._panorama.show()
        self._panorama.raise_()

    def _close_panorama(self) -> None:
        """Another model: its regions, blocks and seeds mean nothing there."""
        dialog = getattr(self, "_panorama", None)
        if dialog is not None:
            dialog.close()

    def project_picture(self) -> None:
        from studio.ui.project_dialog import ProjectDialog

        dialog = ProjectDialog(self.session, self, on_open=self.show_recipe, class_index=self.page_state.class_index)
        self._project_dialog = dialog            # kept for tests and while it is open
        dialog.show()

    def _build_strip_box(self) -> QWidget:
        box = QGroupBox("Interpolation strip")
        v = QVBoxLayout(box)
        v.addWidget(self.strip)
        row = QHBoxLayout()
        self.play_btn = QPushButton("▶ Play")
        self.play_btn.setCheckable(True)
        self.play_btn.toggled.connect(self._toggle_play)
        self.fps_spin = QSpinBox(minimum=1, maximum=60, value=12, suffix=" fps")
        self.fps_spin.valueChanged.connect(lambda _v: self._show_duration())
        self.video_size = QComboBox()
        self.video_size.setToolTip("Size of the exported video's frames (Lanczos up from the model's size)")
        for text, side in (("model size", None), ("1080 px", 1080), ("1440 px", 1440), ("4K (2160 px)", 2160)):
            self.video_size.addItem(text, side)
        self.video_upscaler = UpscalerChoice()
        self.export_btn = QPushButton("Export…")
        self.export_btn.setToolTip("Save as MP4, GIF or a folder of PNG frames")
        self.export_btn.clicked.connect(self.export_strip)
        self.strip_status = QLabel()
        for widget in (self.play_btn, self.fps_spin, self.video_size, self.video_upscaler, self.export_btn):
            row.addWidget(widget)
        row.addWidget(self.strip_status, 1)
        v.addLayout(row)
        return box

    # -- model ---------------------------------------------------------------------------------------
    def _on_model(self, info: dict) -> None:
        self.setEnabled(True)
        self._close_panorama()
        self.grid.native_size = int(info["resolution"])
        self.cutoff_spin.setMaximum(info["num_ws"])
        fill_class_combo(self.class_combo, info)
        if info["c_dim"] > 1:
            self.class_combo.blockSignals(True)
            self.class_combo.addItem("All (a row each)", ALL_CLASSES)
            self.class_combo.blockSignals(False)
        with self._bound():
            self.page_state.all_classes = False
        self.page_state.class_index = self.class_combo.currentData() if self.class_combo.count() else None
        conditional = info["c_dim"] > 0
        self.class_combo.setVisible(conditional)
        self.class_label.setVisible(conditional)
        self.view_box.setVisible(bool(info.get("has_view")))
        self.tile_check.setVisible(bool(info.get("can_tile")))
        self.panorama_btn.setVisible(bool(info.get("can_tile")))
        self.canvas_combo.setVisible(bool(info.get("can_widen")))
        self.canvas_label.setVisible(bool(info.get("can_widen")))
        with self._bound():
            if not info.get("can_tile"):
                self.page_state.tile = False
            if not info.get("can_widen"):
                self.page_state.canvas = None
                self.canvas_combo.setCurrentIndex(0)
        self.directions = []
        with self._bound():
            self.page_state.edits = ()
        self._fill_saved()
        self.load_directions()
        if not info.get("has_view"):
            with self._bound():
                self.page_state.reset_view()
        self.strip_box.hide()
        self.selection_label.setText("Click an image; ctrl/shift-click to pick several.")
        self.render_grid(keep=False)

    # -- the page's state ---------------------------------------------------------------------------
    def _on_state(self, name: str, value) -> None:
        """The page changed (from a widget, a key, a restored recipe): widgets follow, the grid renders."""
        widgets = {"rows": self.rows_spin, "cols": self.cols_spin, "truncation_cutoff": self.cutoff_spin,
                   "translate_x": self.translate_x, "translate_y": self.translate_y, "rotate": self.rotate_spin}
        with self._bound():
            if name in widgets:
                widgets[name].setValue(value or 0)
            elif name == "truncation_psi" and self.psi.value() != value:
                self.psi.set_value(value)
            elif name == "noise_mode":
                self.noise_combo.setCurrentIndex(self.noise_combo.findData(value))
            elif name == "tile":
                self.tile_check.setChecked(bool(value))
            elif name == "canvas":
                self.canvas_combo.set_units(value)
            elif name == "class_index" and value is not None and not self.page_state.all_classes \
                    and self.class_combo.currentData() != value:
                self.class_combo.setCurrentIndex(self.class_combo.findData(value))
            elif name == "all_classes":
                self.class_combo.setCurrentIndex(self.class_combo.findData(
                    ALL_CLASSES if value else self.page_state.class_index))
        if name == "canvas":
            self.grid.set_aspect(value[0] / value[1] if value else 1.0)
        if name == "edits" and getattr(self, "_recipe_shown", None) is not None and self._viewer is not None:
            self._render_shown()                 # the open explicit-latent image follows the sliders too
        if name in ExplorePage.RENDER_FIELDS:
            self.schedule_render()
        else:
            self.render_grid()             # images of seeds still on the page stay while they re-render

    def _bound(self):
        """While widgets are set from the state, their own change signals are not fed back."""
        panel = self

        class Bound:
            def __enter__(self):
                self.widgets = [panel.rows_spin, panel.cols_spin, panel.cutoff_spin, panel.noise_combo,
                                panel.class_combo, panel.translate_x, panel.translate_y, panel.rotate_spin,
                                panel.tile_check, panel.canvas_combo]
                self.old = [w.blockSignals(True) for w in self.widgets]

            def __exit__(self, *exc):
                for widget, old in zip(self.widgets, self.old):
                    widget.blockSignals(old)

        return Bound()

    def settings(self) -> RenderSettings:
        return self.page_state.settings()

    def page_size(self) -> int:
        return self.page_state.page_size

    def page_seeds(self) -> list[int]:
        return self.page_state.seeds()

    def recipe_for(self, tag) -> Recipe:
        """The recipe of a cell: its seed as the page renders it (a (class, seed) cell in its row's class)."""
        if isinstance(tag, tuple):
            klass, seed = tag
            return self.page_state.recipe_for(seed, self.session.model_ref(), class_index=klass)
        return self.page_state.recipe_for(tag, self.session.model_ref())

    def _on_class_choice(self) -> None:
        choice = self.class_combo.currentData()
        if choice == ALL_CLASSES:
            self.page_state.all_classes = True
        else:
            self.page_state.update(class_index=choice, all_classes=False)

    # -- navigation ----------------------------------------------------------------------------------
    def next_page(self) -> None:
        self._turn(self.page_state.next_page)

    def prev_page(self) -> None:
        self._turn(self.page_state.prev_page)

    def random_page(self) -> None:
        self._turn(self.page_state.random_page)

    def go_to_seed(self, seed: int) -> None:
        self._turn(lambda: self.page_state.go_to_seed(seed))
        row = self.grid.grid_model.row_of(seed)
        if row is not None:
            self.grid.select_row(row)

    def _turn(self, move) -> None:
        """Move the page; from a ranking (Find by prompt) any move returns to pages of seeds."""
        before = self.page_state.page
        move()
        if getattr(self, "ranked", False) and self.page_state.page == before:
            self.render_grid(keep=False)

    # -- rendering -----------------------------------------------------------------------------------
    def schedule_render(self) -> None:
        """Coalesce bursts of changes (a dragged slider) into one render of the newest state."""
        self.grid.grid_model.mark_stale()
        self._render_timer.start()

    def render_grid(self, keep: bool = True) -> None:
        """Render the page as the state now says (a scheduled render would only repeat this)."""
        self._render_timer.stop()
        if self.session.model is None:
            return
        if getattr(self, "ranked", False):   # back from a ranking to pages of seeds
            self.ranked = False
            self.client.cancel(FIND_KEY)
            keep = False
        seeds = self.page_seeds()
        self.page_label.setText(f"seeds {seeds[0]:,}–{seeds[-1]:,}")
        self.page_label.setToolTip(f"page {self.page_state.page + 1:,} of {self.page_state.last_page + 1:,}")
        if self.page_state.all_classes and self.session.model.get("c_dim", 0) > 1:
            self._render_class_rows(seeds[:self.page_state.cols], keep)
            return
        self.grid.set_shape(self.page_state.rows, self.page_state.cols)
        if not keep or [i.tag for i in self.grid.grid_model.items] != seeds:
            self.grid.grid_model.set_items(seeds, [f"seed {s}" for s in seeds], keep_images=keep)
        else:
            self.grid.grid_model.mark_stale()
        self.client.submit(GRID_KEY, jobs.render_seeds(seeds, self.settings())).on(
            image=self._on_grid_image, failed=self._on_failed)

    def _render_class_rows(self, seeds: list[int], keep: bool) -> None:
        """Every class of a conditional model, a row each, for the page's first columns of seeds."""
        classes = list(range(self.session.model["c_dim"]))
        names = self.session.model.get("class_names") or []
        tags = [(k, s) for k in classes for s in seeds]
        self.page_label.setText(f"seeds {seeds[0]:,}–{seeds[-1]:,} in every class")
        labels = [f"{names[k] if k < len(names) else f'class {k}'} · seed {s}" for k, s in tags]
        self.grid.set_shape(len(classes), len(seeds))
        if not keep or [i.tag for i in self.grid.grid_model.items] != tags:
            self.grid.grid_model.set_items(tags, labels, keep_images=keep)
        else:
            self.grid.grid_model.mark_stale()
        self.client.submit(GRID_KEY, jobs.render_class_rows(seeds, classes, self.settings())).on(
            image=self._on_grid_image, failed=self._on_failed)

    # -- find by prompt ---------------------------------------------------------------------------------
    def _clip_choice(self) -> tuple[str, str | None]:
        """The CLIP that scores Find by prompt: the session's choice (set in the Evolve panel)."""
        return self.session.clip.spec, self.session.clip.config

    def _check_find_prompt(self, *_args) -> None:
        """Warn as the prompt is typed about words the chosen CLIP never saw."""
        spec, _ = self._clip_choice()
        if spec != self._hint_clip:
            self._hint_clip = spec
            self.find_hint.set_clip(spec)
        self.find_hint.check(self.find_prompt.text())

    def showEvent(self, event) -> None:  # noqa: N802 - the CLIP may have changed in Evolve meanwhile
        super().showEvent(event)
        if self.find_prompt.text():
            self._check_find_prompt()

    def find(self) -> None:
        """Rank N seeds (from this page's first seed on) against a prompt; the best fill the grid."""
        prompt = self.find_prompt.text().strip()
        if not prompt or self.session.model is None:
            self.session.status.emit("Write what you are looking for first", 3000)
            return
        self._class_from_prompt(prompt)
        self._render_timer.stop()            # the ranking replaces the page: no page render after it
        start = self.page_state.first_seed
        seeds = list(range(start, min(start + self.find_count.value(), MAX_SEED + 1)))
        top = self.find_top.value()
        self.ranked = True
        self.grid.grid_model.set_items([], [])
        self.page_label.setText(f"best {top} of {len(seeds):,}")
        self.find_btn.setEnabled(False)
        self.find_stop.setEnabled(True)
        spec, config = self._clip_choice()
        self.client.cancel(GRID_KEY)
        self.client.submit(FIND_KEY, jobs.rank_prompt(prompt, None, seeds, top, self.settings(), spec, config)).on(
            image=lambda tag, image, _extra: self.grid.grid_model.set_image(tag, image),
            message=self._on_find_message, progress=self._on_find_progress, finished=self._on_find_finished,
            failed=self._on_find_failed, cancelled=self._on_find_stopped)

    def _class_from_prompt(self, prompt: str) -> None:
        """A conditional model searches the family the prompt names ("orange rings": radial), as Evolve does."""
        model = self.session.model
        if not model or not model.get("c_dim"):
            return
        names = list(model.get("class_names") or [])
        k = vocabulary.suggest_class(prompt, names, dict(model.get("class_keywords") or {}))
        if k is not None and (k != self.page_state.class_index or self.page_state.all_classes):
            self.page_state.update(class_index=k, all_classes=False)
            family = names[k] if k < len(names) else f"class {k}"
            self.session.status.emit(f"Searching the {family} family, which the prompt names", 4000)

    def _show_ranking(self, top: list) -> None:
        seeds = [seed for seed, _ in top]
        if [i.tag for i in self.grid.grid_model.items] != seeds:
            old = {i.tag: i.image for i in self.grid.grid_model.items}
            self.grid.grid_model.set_items(seeds, [f"seed {seed}" for seed in seeds])
            for seed in seeds:
                if old.get(seed) is not None:
                    self.grid.grid_model.set_image(seed, old[seed])
        for row, (seed, score) in enumerate(top):
            self.grid.grid_model.set_badge(row, f"{score:.3f}")

    def _on_grid_image(self, tag, image: QImage, _extra) -> None:
        row = self.grid.grid_model.set_image(tag, image)
        if self._viewer is not None and row == self._viewer.row:
            self._viewer.refresh()

    def _on_find_message(self, payload) -> None:
        if isinstance(payload, dict) and "top" in payload:
            self._show_ranking(payload["top"])

    def _on_find_progress(self, done: int, total: int) -> None:
        self.session.status.emit(f"Scored {done:,} of {total:,} seeds against the prompt", 0)

    def _on_find_finished(self, result) -> None:
        self.find_btn.setEnabled(True)
        self.find_stop.setEnabled(False)
        self.session.status.emit(f"Found the best {len(result or [])} for “{self.find_prompt.text()}”", 5000)

    def _on_find_stopped(self) -> None:
        self.find_btn.setEnabled(True)
        self.find_stop.setEnabled(False)
        self.session.status.emit("Stopped: the best found so far stay in the grid", 5000)

    def _on_find_failed(self, message: str) -> None:
        self.find_btn.setEnabled(True)
        self.find_stop.setEnabled(False)
        self._on_failed(message)

    def _on_failed(self, message: str) -> None:
        self.session.status.emit(message, 0)

    def _on_strip_failed(self, message: str) -> None:
        self.session.status.emit(message, 0)
        self.strip_status.setText(message)

    def _render_shown(self) -> None:
        """(Re-)render the explicit-latent image on show, with the page's edits on top."""
        recipe = replace(self._recipe_shown, edits=list(self._recipe_shown.edits) + list(self.page_state.edits))
        self.client.submit(RECIPE_KEY, jobs.render_recipe(recipe.to_json(), tag="recipe")).on(
            image=self._show_recipe_image, failed=self._on_failed)

    def _show_recipe_image(self, _tag, image: QImage, extra) -> None:
        recipe = Recipe.from_json(extra)
        edited = f" · {len(recipe.edits)} edit{'s' * (len(recipe.edits) != 1)}" if recipe.edits else ""
        old, self._viewer = self._viewer, None
        if old is not None:
            old.close()
        self._shown = (recipe, image)
        what = f"panorama of {recipe.regions.count} seeds" if recipe.regions is not None else "explicit latent"
        self._viewer = ImageViewer(lambda _r: (image, f"{recipe.model.name} · {what} · "
                                                      f"psi {recipe.truncation_psi:g}{edited}"), 1, 0,
                                   star=lambda _r: self._star_shown(), parent=self)
        viewer = self._viewer
        viewer.finished.connect(lambda _r: self._viewer_closed(viewer))
        viewer.show()

    def _viewer_closed(self, viewer) -> None:
        if self._viewer is viewer:
            self._viewer, self._recipe_shown = None, None

    def _star_shown(self) -> None:
        recipe, image = self._shown
        if self.session.star(recipe, image, source="explore") is not None:
            self.session.status.emit("Starred: it is in the Library", 3000)

    # -- selection, large view, star ------------------------------------------------------------------
    def selected_seeds(self) -> list[int]:
        return [_seed_of(self.grid.grid_model.items[r].tag) for r in self.grid.selected_rows()]

    def _first_selected(self) -> int:
        rows = self.grid.selected_rows()
        return rows[0] if rows else 0

    def _on_selection(self, rows: list[int]) -> None:
        seeds = self.selected_seeds()
        if not seeds:
            self.selection_label.setText("Click an image; ctrl/shift-click to pick several.")
        else:
            shown = ", ".join(str(s) for s in seeds[:8]) + (" …" if len(seeds) > 8 else "")
            self.selection_label.setText(f"{len(seeds)} selected: seed {shown}")
        self.selection_changed.emit([self.recipe_for(self.grid.grid_model.items[r].tag) for r in rows])

    def open_large(self, row: int) -> None:
        model = self.grid.grid_model
        if not model.items:
            return

        def fetch(r: int):
            item = model.items[r]
            res = self.session.model["resolution"] if self.session.model else 0
            title = f"seed {_seed_of(item.tag)} · psi {self.page_state.truncation_psi:g} · {res}×{res}"
            if self.page_state.tile and item.image is not None:
                return repeat_3x3(item.image), title + " · seamless tile, shown 3 × 3"
            return item.image, title

        self._recipe_shown = None
        self._viewer = ImageViewer(fetch, len(model.items), row, columns=self.page_state.cols,
                                   star=lambda r: self._star_rows([r]), parent=self)
        self._viewer.row_changed.connect(self.grid.select_row)
        self._viewer.finished.connect(lambda _r: setattr(self, "_viewer", None))
        self._viewer.show()

    def star_selection(self) -> None:
        rows = self.grid.selected_rows()
        if not rows:
            self.session.status.emit("Select an image to star it", 3000)
            return
        self._star_rows(rows)

    def _star_rows(self, rows: list[int]) -> None:
        for r in rows:
            item = self.grid.grid_model.items[r]
            if item.image is None or item.stale:
                self.session.status.emit(f"seed {_seed_of(item.tag)} is still rendering", 3000)
                continue
            if self.session.star(self.recipe_for(item.tag), item.image, source="explore") is not None:
                self.grid.grid_model.set_badge(r, "★")

    def show_recipe(self, recipe: Recipe) -> None:
        """Bring an image back from its recipe (a dropped PNG, the Library): its settings and seed."""
        self.page_state.restore(recipe)
        if recipe.seed is not None and recipe.regions is None:
            self.go_to_seed(recipe.seed)
            row = self.grid.grid_model.row_of(recipe.seed)
            if row is not None:
                self.open_large(row)
        else:
            what = "several seeds on one canvas" if recipe.regions is not None else "an explicit latent"
            self.session.status.emit(f"This image has {what}: it opens in the large view, where the Edit "
                                     "box's sliders edit it and S stars it", 6000)
            self._recipe_shown = replace(recipe, edits=[])       # the page's edits (now the recipe's) go on top
            self._render_shown()

    # -- interpolation --------------------------------------------------------------------------------
    def keyframes(self) -> list[dict]:
        tags = [self.grid.grid_model.items[r].tag for r in self.grid.selected_rows()]
        return [{"recipe": self.recipe_for(t).to_json()} if isinstance(t, tuple) else {"seed": t} for t in tags]

    def interpolate_recipes(self, recipes: list) -> None:
        """Make a strip through favourites (from the Library) instead of the grid selection."""
        self.make_strip([{"recipe": r.to_json()} for r in recipes])

    def make_strip(self, keys: list[dict] | None = None, *, loop: bool | None = None, space: str | None = None) -> None:
        keys = keys if keys is not None else self.keyframes()
        if len(keys) < 2:
            self.session.status.emit("Select two or more images to interpolate between (ctrl-click)", 4000)
            return
        frames = self.frames_spin.value()
        if frames < len(keys):
            self.session.status.emit(f"Use at least {len(keys)} frames for {len(keys)} images", 4000)
            return
        # the strip remembers what made it: export renders exactly this, whatever is selected later
        self._strip_request = dict(keyframes=keys, frames=frames, space=space or self.space_combo.currentData(),
                                   loop=self.loop_check.isChecked() if loop is None else loop, settings=self.settings(),
                                   easing=self.easing_combo.currentData())
        self.strip.grid_model.set_items(list(range(frames)), [f"{i + 1}" for i in range(frames)])
        self.strip_box.show()
        self.strip_status.setText("rendering…")
        r = self._strip_request
        self.client.submit(STRIP_KEY, jobs.render_interpolation(
            r["keyframes"], r["frames"], space=r["space"], loop=r["loop"], settings=r["settings"],
            easing=r["easing"])).on(
            image=lambda tag, image, _extra: self.strip.grid_model.set_image(tag, image),
            progress=lambda done, total: self.strip_status.setText(f"rendering frame {done} of {total}"),
            finished=lambda count: self._show_duration(), failed=self._on_strip_failed)

    def _show_duration(self) -> None:
        if self._strip_request is not None:
            frames = self._strip_request["frames"]
            self.strip_status.setText(f"{frames} frames = {frames / self.fps_spin.value():.1f} s")

    def _toggle_play(self, on: bool) -> None:
        self.play_btn.setText("‖ Pause" if on else "▶ Play")   # U+23F8 is missing from common fonts
        if on:
            if self._viewer is None or not getattr(self._viewer, "is_strip", False):
                self._open_strip_frame(0)      # play it large, not as a highlight over thumbnails
            self._play_row = 0
            self._play_timer.start(int(1000 / self.fps_spin.value()))
        else:
            self._play_timer.stop()

    def _advance_play(self) -> None:
        n = len(self.strip.grid_model.items)
        if n == 0:
            return
        self.strip.select_row(self._play_row % n)
        if self._viewer is not None and getattr(self._viewer, "is_strip", False):
            self._viewer.show_row(self._play_row % n)
        self._play_row += 1

    def _open_strip_frame(self, row: int) -> None:
        model = self.strip.grid_model

        def fetch(r: int):
            return model.items[r].image, f"frame {r + 1} of {len(model.items)}"

        self._viewer = ImageViewer(fetch, len(model.items), row, parent=self)
        self._viewer.is_strip = True
        self._viewer.row_changed.connect(self.strip.select_row)
        self._viewer.finished.connect(lambda _r: setattr(self, "_viewer", None))
        self._viewer.finished.connect(lambda _r: self.play_btn.setChecked(False))   # closing it stops playback
        self._viewer.show()

    def export_strip(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export interpolation", "interpolation.mp4",
            "MP4 video (*.mp4);;Animated GIF (*.gif);;Folder of PNG frames (*)")
        if not path:
            return
        if chosen.startswith("Folder"):
            path = path.rsplit(".", 1)[0] if path.endswith((".mp4", ".gif")) else path
        self.strip_status.setText("exporting…")
        r = self._strip_request
        self.client.submit(EXPORT_KEY, jobs.export_interpolation(
            r["keyframes"], r["frames"], space=r["space"], loop=r["loop"], settings=r["settings"],
            out=path, fps=self.fps_spin.value(), easing=r["easing"], long_side=self.video_size.currentData(),
            upscaler=self.video_upscaler.value())).on(
            progress=lambda done, total: self.strip_status.setText(f"exporting frame {done} of {total}"),
            finished=self._on_strip_exported, failed=self._on_strip_failed)

    def _on_strip_exported(self, path: str) -> None:
        self.strip_status.setText(f"saved {path}")
        self.session.status.emit(f"Saved {path}", 5000)


def _seed_of(tag) -> int:
    """A cell's seed: its tag, or the seed of a (class, seed) cell when every class is shown."""
    return tag[1] if isinstance(tag, tuple) else tag
