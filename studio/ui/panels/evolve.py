"""Evolve: MAGnet's genetic algorithm toward a text prompt, with the artist choosing the parents.

Each generation appears ranked by its fitness (CLIP similarity to the prompt, minus the
negative prompt, plus the discriminator's realness if asked). CLIP's choice of parents is
ticked (✓); the artist can tick others instead, lock a parent ("locked") so it stays in every
generation, or bring in favourites and images from other panels. The lineage strip shows the
best of every generation of every branch; clicking one goes back there (with the parents ticked
there) and breeding from it starts a branch beside the old one, which stays one click away.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.app.state import EvolutionChoices
from studio.clip import vocabulary
from studio.gan.recipe import Recipe
from studio.gan.render_settings import RenderSettings
from studio.ui import jobs
from studio.ui.session import StudioSession
from studio.ui.widgets.canvas_combo import CanvasCombo
from studio.ui.widgets.class_combo import fill_class_combo
from studio.ui.widgets.image_grid import ImageGrid
from studio.ui.widgets.layout import sidebar as make_sidebar
from studio.ui.widgets.prompt_hint import PromptHint
from studio.ui.widgets.truncation import TruncationControl
from studio.ui.widgets.viewer import ImageViewer

KEY = "evolve.run"
FULL_KEY = "evolve.full"
DEFAULT_PROMPT = "an abstract painting with orange triangles"


class EvolvePanel(QWidget):
    def __init__(self, session: StudioSession, parent=None):
        super().__init__(parent)
        self.session = session
        self.client = session.client
        self.state: dict | None = None          # the current generation, as the worker reported it
        self.choices = EvolutionChoices()       # parents ticked, locked and brought in
        self._starred: set[int] = set()         # individuals put in the Library
        self.choices.connect(lambda _name, _value: self._refresh_badges())
        self.info: dict[int, dict] = {}         # id -> {'score', 'recipe'}
        self.images: dict[int, QImage] = {}
        self._viewer: ImageViewer | None = None
        self._class_names: list[str] = []
        self._class_keywords: dict[str, list[str]] = {}
        self._class_chosen = False              # the artist picked a class: stop suggesting one
        self._lineage_images: dict[int, QImage] = {}   # generation uid -> its best image
        self._ticks: dict[int, tuple[list, list]] = {}  # generation uid -> the parents ticked and locked there

        self.grid = ImageGrid(rows=4, cols=5)
        self.grid.opened.connect(self.open_large)
        self.grid.selection_changed.connect(self._on_selection)
        self.lineage = ImageGrid(rows=1, cols=10, fit=False)
        self.lineage.set_cell_size(96)
        self.lineage.setFlow(ImageGrid.Flow.LeftToRight)
        self.lineage.setWrapping(False)
        self.lineage.setFixedHeight(116)
        self.lineage.setSelectionMode(ImageGrid.SelectionMode.SingleSelection)
        self.lineage.opened.connect(self.branch)
        self.lineage.clicked.connect(lambda index: self.branch(index.row()))
        self.status = QLabel("Write a prompt and press Start.")
        self.status.setWordWrap(True)

        sidebar = self._build_sidebar()
        scroll = make_sidebar(sidebar, 310)
        center = QVBoxLayout()
        center.addWidget(self.status)
        center.addWidget(self.grid, 1)
        center.addWidget(QLabel("Lineage — click a generation to go back and branch from it:"))
        center.addWidget(self.lineage)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(scroll)
        layout.addLayout(center, 1)

        session.model_changed.connect(self._on_model)
        self._set_running(False)
        self.setEnabled(False)

    # -- layout ---------------------------------------------------------------------------------------
    def _build_sidebar(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        prompt = QGroupBox("Prompt")
        pf = QFormLayout(prompt)
        self.prompt = QLineEdit(DEFAULT_PROMPT)
        self.negative = QLineEdit()
        self.negative.setPlaceholderText("optional: what to steer away from")
        self.negative_weight = QDoubleSpinBox(minimum=0.0, maximum=5.0, value=1.0, singleStep=0.1)
        self.clip_edit = QLineEdit(self.session.settings.clip)
        self.clip_edit.setToolTip("Which CLIP scores the images: 'default' (bundled), an open_clip NAME:TAG "
                                  "from your cache, or a checkpoint file")
        self.clip_config = QLineEdit(self.session.settings.clip_config or "")
        self.clip_config.setPlaceholderText("config JSON or model name (checkpoints only)")
        self.suggest_btn = QToolButton()
        self.suggest_btn.setText("Ideas")
        self.suggest_btn.setToolTip("Prompts in the words this CLIP was trained on")
        self.suggest_btn.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.suggest_menu = QMenu(self.suggest_btn)
        self.suggest_menu.triggered.connect(lambda action: self.prompt.setText(action.text()))
        self.suggest_btn.setMenu(self.suggest_menu)
        prompt_row = QHBoxLayout()
        prompt_row.setContentsMargins(0, 0, 0, 0)
        prompt_row.addWidget(self.prompt, 1)
        prompt_row.addWidget(self.suggest_btn)
        self.vocab_hint = PromptHint()
        pf.addRow("Prompt", prompt_row)
        pf.addRow(self.vocab_hint)
        pf.addRow("Negative", self.negative)
        pf.addRow("Negative weight", self.negative_weight)
        pf.addRow("CLIP", self.clip_edit)
        pf.addRow("CLIP config", self.clip_config)
        v.addWidget(prompt)

        params = QGroupBox("Algorithm (MAGnet's defaults)")
        af = QFormLayout(params)
        self.population = QSpinBox(minimum=4, maximum=5000, value=200)
        self.parents = QSpinBox(minimum=1, maximum=8, value=4)
        self.recombination = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05)
        self.recombination.setDecimals(3)      # before the value, or 0.333 is rounded to 0.33
        self.recombination.setValue(0.333)
        self.mutation = QDoubleSpinBox(minimum=0.0, maximum=3.0, value=0.25, singleStep=0.05)
        self.generations = QSpinBox(minimum=1, maximum=100, value=5)
        self.space = QComboBox()
        self.space.addItem("W (stays on the image manifold)", "w")
        self.space.addItem("Z (MAGnet's)", "z")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.truncation = TruncationControl(1.0)
        self.truncation.setToolTip("Truncation psi every individual is rendered with (studio evolve --trunc)")
        self.realness = QDoubleSpinBox(minimum=0.0, maximum=5.0, value=0.0, singleStep=0.1)
        self.realness.setToolTip("Weight of the discriminator's realness score (models with a discriminator)")
        self.class_combo = QComboBox()
        self.class_combo.activated.connect(lambda _index: setattr(self, "_class_chosen", True))
        self.class_label = QLabel("Class")
        af.addRow("Initial population", self.population)
        af.addRow("Parents kept", self.parents)
        af.addRow("Recombination r", self.recombination)
        af.addRow("Mutation", self.mutation)
        af.addRow("Generations", self.generations)
        af.addRow("Latent space", self.space)
        af.addRow("Random seed", self.seed)
        af.addRow("Realness weight", self.realness)
        af.addRow("Truncation", self.truncation)
        af.addRow(self.class_label, self.class_combo)
        self.canvas_combo = CanvasCombo()
        self.canvas_combo.setToolTip(self.canvas_combo.toolTip() + "; CLIP scores the whole canvas, in square "
                                     "crops side by side")
        self.canvas_label = QLabel("Canvas")
        af.addRow(self.canvas_label, self.canvas_combo)
        self.tile_check = QCheckBox("Seamless tile")
        self.tile_check.setToolTip("Evolve textures: every individual is one period of a pattern that repeats "
                                   "without a seam")
        af.addRow(self.tile_check)
        self.preview_check = QCheckBox("Score the first population from a preview")
        self.preview_check.setToolTip("Render the initial population at half size (128 px for larger models) for "
                                      "CLIP, then score its best 16 again at the usual scoring size: about twice "
                                      "as fast a start, "
                                      "but the half-size picture can rank differently (on the default model it "
                                      "does: benchmarks/evolve_preview.py), so it is off unless you choose it")
        af.addRow(self.preview_check)
        v.addWidget(params)

        run = QGroupBox("Run")
        rg = QGridLayout(run)
        self.start_btn = QPushButton("Start")
        self.next_btn = QPushButton("Next generation")
        self.run_btn = QPushButton("Run to end")
        self.stop_btn = QPushButton("Stop")
        for i, b in enumerate((self.start_btn, self.next_btn, self.run_btn, self.stop_btn)):
            rg.addWidget(b, i // 2, i % 2)
        v.addWidget(run)

        par = QGroupBox("Parents of the next generation")
        pg = QGridLayout(par)
        self.parents_label = QLabel("CLIP's choice is ticked ✓")
        self.parents_label.setWordWrap(True)
        self.use_selected = QPushButton("Parents = selection")
        self.toggle_btn = QPushButton("Tick / untick")
        self.lock_btn = QPushButton("Lock / unlock")
        self.reset_btn = QPushButton("CLIP's choice")
        self.bring_explore = QPushButton("+ Explore selection")
        self.bring_library = QPushButton("+ Library selection")
        pg.addWidget(self.parents_label, 0, 0, 1, 2)
        for i, b in enumerate((self.use_selected, self.toggle_btn, self.lock_btn, self.reset_btn,
                               self.bring_explore, self.bring_library)):
            pg.addWidget(b, 1 + i // 2, i % 2)
        v.addWidget(par)

        img = QGroupBox("Selected image")
        ig = QGridLayout(img)
        self.star_btn = QPushButton("★ Star")
        self.view_btn = QPushButton("View large")
        self.to_export = QPushButton("Send to Export")
        self.to_mix = QPushButton("Send to Style Mix")
        for i, b in enumerate((self.star_btn, self.view_btn, self.to_export, self.to_mix)):
            ig.addWidget(b, i // 2, i % 2)
        v.addWidget(img)
        v.addStretch(1)

        self._prompt_timer = QTimer(self, singleShot=True, interval=250)
        self._prompt_timer.timeout.connect(self._check_prompt)
        self.prompt.textChanged.connect(self._prompt_timer.start)
        self.negative.textChanged.connect(self._prompt_timer.start)
        self.clip_edit.editingFinished.connect(self._refresh_vocabulary)
        clip = self.session.clip                 # the fields and the session's CLIP follow each other
        self.clip_edit.textChanged.connect(lambda text: setattr(clip, "spec", text))
        self.clip_config.textChanged.connect(lambda text: setattr(clip, "config", text))
        clip.connect(self._on_clip_choice)
        self._refresh_vocabulary()
        self.start_btn.clicked.connect(self.start)
        self.next_btn.clicked.connect(lambda: self.next_generation(1))
        self.run_btn.clicked.connect(self.run_to_end)
        self.stop_btn.clicked.connect(lambda: self.client.cancel(KEY))
        self.use_selected.clicked.connect(self.parents_from_selection)
        self.toggle_btn.clicked.connect(self.toggle_selected)
        self.lock_btn.clicked.connect(self.lock_selected)
        self.reset_btn.clicked.connect(self.reset_parents)
        self.bring_explore.clicked.connect(lambda: self.bring_in("explore"))
        self.bring_library.clicked.connect(lambda: self.bring_in("library"))
        self.star_btn.clicked.connect(self.star_selection)
        self.view_btn.clicked.connect(lambda: self.open_large(self._first_row()))
        self.to_export.clicked.connect(lambda: self._send("export"))
        self.to_mix.clicked.connect(lambda: self._send("mix"))
        return w

    def _on_model(self, info: dict) -> None:
        self.setEnabled(True)
        self.state = None
        self.grid.grid_model.set_items([], [])
        self.lineage.grid_model.set_items([], [])
        fill_class_combo(self.class_combo, info)
        self._class_names = list(info.get("class_names") or [])
        self._class_keywords = dict(info.get("class_keywords") or {})
        self._class_chosen = False
        self._check_prompt()
        self.class_combo.setVisible(info["c_dim"] > 0)
        self.class_label.setVisible(info["c_dim"] > 0)
        self.realness.setEnabled(bool(info.get("has_discriminator")))
        for widget, shown in ((self.canvas_combo, info.get("can_widen")), (self.canvas_label, info.get("can_widen")),
                              (self.tile_check, info.get("can_tile"))):
            widget.setVisible(bool(shown))
        if not info.get("can_widen"):
            self.canvas_combo.setCurrentIndex(0)
        if not info.get("can_tile"):
            self.tile_check.setChecked(False)
        self._set_running(False)

    @property
    def chosen(self) -> list[int]:
        return self.choices.chosen

    @property
    def locked(self) -> list[int]:
        return self.choices.locked

    @property
    def extras(self) -> list[str]:
        return self.choices.extras

    def _on_clip_choice(self, name: str, value) -> None:
        edit = self.clip_edit if name == "spec" else self.clip_config
        if (edit.text().strip() or ("default" if name == "spec" else None)) != value:
            edit.setText(value or "")
            self._refresh_vocabulary()

    # -- what the CLIP knows ----------------------------------------------------------------------------
    def _refresh_vocabulary(self) -> None:
        """Read the chosen CLIP's vocabulary and example prompts (the bundled one has both)."""
        ideas = self.vocab_hint.set_clip(self.clip_edit.text().strip())
        self.suggest_menu.clear()
        for text in ideas:
            self.suggest_menu.addAction(text)
        self.suggest_btn.setVisible(bool(ideas))
        self._check_prompt()

    def unseen_words(self) -> list[str]:
        """Words of the prompt and the negative prompt that the CLIP never saw in training."""
        return self.vocab_hint.unseen

    def _check_prompt(self) -> None:
        self.vocab_hint.check(f"{self.prompt.text()} {self.negative.text()}")
        if self._class_names and not self._class_chosen:
            k = vocabulary.suggest_class(self.prompt.text(), self._class_names, self._class_keywords)
            if k is not None:
                self.class_combo.setCurrentIndex(self.class_combo.findData(k))

    def _set_running(self, running: bool) -> None:
        if running and not getattr(self, "running", False):
            self._step_started = time.monotonic()
        self.running = running
        self.start_btn.setEnabled(not running)
        has = self.state is not None
        self.next_btn.setEnabled(not running and has)
        self.run_btn.setEnabled(not running and has)
        self.stop_btn.setEnabled(running)

    # -- running --------------------------------------------------------------------------------------
    def config(self) -> dict:
        return {"population": self.population.value(), "parents": self.parents.value(),
                "recombination": self.recombination.value(), "mutation": self.mutation.value(),
                "generations": self.generations.value(), "space": self.space.currentData(),
                "seed": self.seed.value(), "negative_weight": self.negative_weight.value(),
                "realness_weight": self.realness.value(), "preview_resolution": self._preview_resolution()}

    def _preview_resolution(self) -> int | None:
        if not self.preview_check.isChecked() or self.session.model is None:
            return None
        resolution = int(self.session.model["resolution"])
        return 128 if resolution >= 256 else max(4, resolution // 2)

    def start(self) -> None:
        if not self.prompt.text().strip():
            self.session.status.emit("Write a prompt first", 3000)
            return
        if self.state is not None and not self._confirm(
                "Start a new evolution?",
                f"The evolution toward “{self._evolving}” ({len(self.state.get('tree') or [])} generations, "
                "all branches) will be closed. "
                "Star the images you want to keep first."):
            return
        self._ticks.clear()
        self._evolving = self.prompt.text().strip()
        self.choices.clear()
        self._starred.clear()
        self.info.clear()
        self.images.clear()
        self.grid.grid_model.set_items([], [])
        self.lineage.grid_model.set_items([], [])
        self._lineage_images.clear()
        self.status.setText(f"Scoring {self.population.value()} random images against “{self.prompt.text()}” …")
        self._set_running(True)
        clip_config = self.clip_config.text().strip() or None
        self.session.remember_clip(self.clip_edit.text().strip() or "default", clip_config)
        settings = RenderSettings(truncation_psi=self.truncation.value(), class_index=self.class_combo.currentData(),
                                  tile=self.tile_check.isChecked(), canvas=self.canvas_combo.units())
        self.grid.set_aspect(settings.canvas[0] / settings.canvas[1] if settings.canvas else 1.0)
        self._submit(jobs.evolve_start(self.config(), self.prompt.text().strip(), self.negative.text().strip() or None,
                                       self.clip_edit.text().strip(), clip_config, settings))

    def _confirm(self, title: str, text: str) -> bool:
        buttons = QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel
        return QMessageBox.question(self, title, text, buttons) == QMessageBox.StandardButton.Ok

    def _keep_ticks(self) -> None:
        """Remember the parents ticked here, for when the artist comes back to this generation."""
        if self.state is not None:
            self._ticks[self.state["uid"]] = (list(self.chosen), list(self.locked))

    def next_generation(self, count: int = 1) -> None:
        if self.state is None:
            return
        self._keep_ticks()
        self._set_running(True)
        self.status.setText("Breeding …")
        self._submit(jobs.evolve_next(list(self.chosen), list(self.locked), list(self.extras), count))
        self.choices.extras = []

    def run_to_end(self) -> None:
        if self.state is None:
            return
        remaining = max(1, self.generations.value() - self.state["index"])
        self.next_generation(remaining)

    def branch(self, row: int) -> None:
        """Go to the generation at ``row`` of the lineage strip (any branch); nothing is discarded."""
        items = self.lineage.grid_model.items
        if self.running or not 0 <= row < len(items):
            return
        uid = items[row].tag
        if self.state is not None and uid == self.state["uid"]:
            return
        self._keep_ticks()
        self._set_running(True)
        self._submit(jobs.evolve_branch(uid))

    # -- results --------------------------------------------------------------------------------------
    def _submit(self, job) -> None:
        """Every evolution step goes under one key (a new step replaces a queued one)."""
        self.client.submit(KEY, job).on(image=self._on_image, progress=self._on_progress, message=self._on_message,
                                        finished=self._on_finished, failed=self._on_failed,
                                        cancelled=self._on_stopped)

    def _on_image(self, tag, image: QImage, extra) -> None:
        self.images[tag] = image
        info = self.info.setdefault(tag, {})
        info.update({k: v for k, v in (extra or {}).items() if k != "full"})
        row = self.grid.grid_model.row_of(tag)
        if row is None:   # streaming before the generation is complete: append
            self.grid.grid_model.append_item(tag, self._label(tag), image)
        else:
            self.grid.grid_model.set_image(tag, image)

    def _on_full_image(self, tag, image: QImage, _extra) -> None:
        self.images[tag] = image
        if self._viewer is not None:
            self._viewer.refresh()

    def _label(self, ident: int) -> str:
        score = self.info.get(ident, {}).get("score")
        return f"#{ident}  {score:.3f}" if score is not None else f"#{ident}"

    def _on_progress(self, done: int, total: int) -> None:
        if total:
            elapsed = time.monotonic() - self._step_started
            self.status.setText(f"Scored {done} of {total} … {elapsed:.0f} s")   # a clock that keeps moving

    def _on_message(self, payload) -> None:
        if isinstance(payload, dict) and "ids" in payload:
            self._show_generation(payload)

    def _on_finished(self, result) -> None:
        if isinstance(result, dict):
            self._show_generation(result)
        self._set_running(False)

    def _on_stopped(self) -> None:
        self.status.setText("Stopped. The generation shown is where the evolution stands; Next generation "
                            "continues from it" if self.state is not None else "Stopped before the first generation.")
        self._set_running(False)

    def _on_failed(self, message: str) -> None:
        self.status.setText(message)
        self.session.status.emit(message, 0)
        self._set_running(False)

    def _show_generation(self, state: dict) -> None:
        self.state = state
        chosen, locked = self._ticks.get(state["uid"], (state["suggested"], state["locked"]))
        self.choices.update(chosen=list(chosen), locked=list(locked))
        ids = state["ids"]
        self.grid.grid_model.set_items(ids, [self._label(i) for i in ids])
        for i in ids:
            if i in self.images:
                self.grid.grid_model.set_image(i, self.images[i])
        self._refresh_badges()
        best = state["scores"][0]
        timing = state.get("timings", {})
        seconds = sum(timing.values())
        self.status.setText(f"Generation {state['index']} · best {best:.3f} · {len(ids)} images · "
                            f"{seconds:.0f} s so far. Tick the parents you like, then Next generation.")
        tree = state.get("tree") or state["lineage"]
        for gen in tree:
            if gen["best"] in self.images:
                self._lineage_images.setdefault(gen["uid"], self.images[gen["best"]])
        self.lineage.grid_model.set_items([g["uid"] for g in tree],
                                          [f"gen {g['index']} · {g['score']:.3f}" for g in tree])
        for row, g in enumerate(tree):
            if g["uid"] in self._lineage_images:
                self.lineage.grid_model.set_image(g["uid"], self._lineage_images[g["uid"]])
            self.lineage.grid_model.set_badge(row, "" if g.get("active", True) else "other branch")
        current = self.lineage.grid_model.row_of(state["uid"])
        if current is not None:
            self.lineage.select_row(current)
        self._set_running(self.running)

    def _refresh_badges(self) -> None:
        model = self.grid.grid_model
        for row, item in enumerate(model.items):
            marks = " ".join(filter(None, ["★" if item.tag in self._starred else "",
                                           "locked" if item.tag in self.locked else "",
                                           "✓" if item.tag in self.chosen else ""]))
            item.label = self._label(item.tag)
            model.set_badge(row, marks)
        extra = f" + {len(self.extras)} brought in" if self.extras else ""
        self.parents_label.setText(
            f"Parents: {', '.join('#' + str(i) for i in self.chosen) or 'none'}"
            f"{' · locked ' + ', '.join('#' + str(i) for i in self.locked) if self.locked else ''}{extra}")

    # -- choosing parents -----------------------------------------------------------------------------
    def selected_ids(self) -> list[int]:
        return [self.grid.grid_model.items[r].tag for r in self.grid.selected_rows()]

    def _on_selection(self, rows: list[int]) -> None:
        self.session.selections["evolve"] = [Recipe.from_json(self.info[i]["recipe"])
                                             for i in self.selected_ids() if "recipe" in self.info.get(i, {})]

    def parents_from_selection(self) -> None:
        ids = self.selected_ids()
        if ids:
            self.choices.chosen = ids

    def toggle_selected(self) -> None:
        for i in self.selected_ids():
            self.choices.toggle(i)

    def lock_selected(self) -> None:
        for i in self.selected_ids():
            self.choices.toggle_lock(i)

    def reset_parents(self) -> None:
        if self.state is not None:
            self.choices.chosen = list(self.state["suggested"])

    def bring_in(self, panel: str) -> None:
        recipes = self.session.selections.get(panel, [])
        if not recipes:
            self.session.status.emit(f"Select images in {'Explore' if panel == 'explore' else 'the Library'} first",
                                     4000)
            return
        self.choices.bring([r.to_json() for r in recipes])

    # -- images ---------------------------------------------------------------------------------------
    def _first_row(self) -> int:
        rows = self.grid.selected_rows()
        return rows[0] if rows else 0

    def open_large(self, row: int) -> None:
        model = self.grid.grid_model
        if not model.items:
            return

        def fetch(r: int):
            ident = model.items[r].tag
            return self.images.get(ident), f"#{ident} · fitness {self.info.get(ident, {}).get('score', 0):.3f}"

        self._viewer = ImageViewer(fetch, len(model.items), row, columns=5,
                                   star=lambda r: self._star([model.items[r].tag]), parent=self)
        self._viewer.row_changed.connect(self._on_viewer_row)
        self._viewer.finished.connect(lambda _r: setattr(self, "_viewer", None))
        self._viewer.show()
        self._on_viewer_row(row)

    def _on_viewer_row(self, row: int) -> None:
        self.grid.select_row(row)
        ident = self.grid.grid_model.items[row].tag
        if self.session.model and self.images.get(ident) is not None and \
                self.images[ident].width() < self.session.model["resolution"]:
            self.client.submit(FULL_KEY, jobs.evolve_full_image(ident)).on(image=self._on_full_image,
                                                                           failed=self._on_failed)

    def star_selection(self) -> None:
        self._star(self.selected_ids())

    def _star(self, ids: list[int]) -> None:
        for i in ids:
            if "recipe" in self.info.get(i, {}) and i in self.images:
                if self.session.star(Recipe.from_json(self.info[i]["recipe"]), self.images[i], source="evolve"):
                    self._starred.add(i)           # beside the parent tick, not over it
        self._refresh_badges()

    def _send(self, where: str) -> None:
        recipes = self.session.selections.get("evolve", [])
        if not recipes:
            self.session.status.emit("Select images first", 3000)
            return
        window = self.window()
        if where == "export" and hasattr(window, "send_to_export"):
            window.send_to_export(recipes, source="evolve")
        elif where == "mix" and hasattr(window, "send_to_mix"):
            window.send_to_mix(recipes)
