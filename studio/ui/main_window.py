"""The main window: model bar, panel switcher, status bar, drag and drop of models and recipes."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core import paths
from studio.ui.panels.evolve import EvolvePanel
from studio.ui.panels.explore import ExplorePanel
from studio.ui.panels.mix import MixPanel
from studio.ui.session import StudioSession

NETWORK_SUFFIXES = {".pkl", ".pt", ".pth", ".ckpt", ".safetensors"}
RECIPE_SUFFIXES = {".png", ".tif", ".tiff", ".jpg", ".jpeg", ".webp", ".json"}   # images the studio wrote, recipes
IMAGE_FILTER = "Studio images and recipes (*.png *.tif *.tiff *.jpg *.jpeg *.webp *.json);;All files (*)"
NETWORK_FILTER = "Networks (*.pkl *.pt *.pth *.safetensors);;All files (*)"


def ui_state() -> QSettings:
    """Window geometry and layout, kept apart from the user's settings."""
    return QSettings(str(paths.config_dir() / "ui-state.ini"), QSettings.Format.IniFormat)



#: how the model line names an architecture (StyleGAN2, the usual one, goes unnamed)
ARCHITECTURE_NAMES = {"stylegan3-t": "StyleGAN3-T", "stylegan3-r": "StyleGAN3-R", "swagan": "SWAGAN", "dcgan": "DCGAN"}

class EmptyState(QWidget):
    """What the window shows before any model is open."""

    def __init__(self, window: "MainWindow"):
        super().__init__()
        v = QVBoxLayout(self)
        v.addStretch(1)
        title = QLabel("<h1>GAN Art Studio</h1><p>Open a network to start exploring: an NVIDIA "
                       "StyleGAN2-ADA <code>.pkl</code>, a rosinality <code>.pt</code> or a studio "
                       "<code>.safetensors</code>. You can also drop one onto this window.</p>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title.setWordWrap(True)
        v.addWidget(title)
        row = QHBoxLayout()
        row.addStretch(1)
        self.open_btn = QPushButton("Open model…")
        self.open_btn.setMinimumHeight(36)
        self.open_btn.clicked.connect(window.choose_model)
        row.addWidget(self.open_btn)
        self.default_btn = QPushButton("Open the default model")
        self.default_btn.setMinimumHeight(36)
        self.default_btn.setToolTip("The bundled generator of abstract paintings (128 px, six families)")
        self.default_btn.clicked.connect(lambda: window.session.open_model("default"))
        self.default_btn.setVisible(paths.default_network_path().is_file())
        row.addWidget(self.default_btn)
        row.addStretch(1)
        v.addLayout(row)
        self.recent = QListWidget()
        self.recent.setMaximumWidth(600)
        self.recent.itemActivated.connect(lambda item: window.session.open_model(item.text()))
        self.recent_label = QLabel("Recent models (double-click to open):")
        box = QVBoxLayout()
        box.addWidget(self.recent_label)
        box.addWidget(self.recent)
        holder = QHBoxLayout()
        holder.addStretch(1)
        holder.addLayout(box)
        holder.addStretch(1)
        v.addLayout(holder)
        v.addStretch(2)

    def set_recent(self, items: list[str]) -> None:
        self.recent.clear()
        self.recent.addItems(items)
        self.recent.setVisible(bool(items))
        self.recent_label.setVisible(bool(items))


class MainWindow(QMainWindow):
    def __init__(self, session: StudioSession):
        super().__init__()
        self._last_image_dir = str(Path.home())
        self.session = session
        self.setWindowTitle("GAN Art Studio")
        self.setAcceptDrops(True)
        self.resize(1400, 880)

        self._build_model_bar()
        self.tabs = QTabWidget()
        self.explore = ExplorePanel(session)
        # Explore shows the empty state until a model is open; the Library and Train tabs work
        # without one (browse favourites, train from scratch).
        self.empty = EmptyState(self)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.explore)
        self.tabs.addTab(self.stack, "Explore")
        self.mix = MixPanel(session)
        self.tabs.addTab(self.mix, "Style Mix")
        self.explore.selection_changed.connect(lambda recipes: session.selections.__setitem__("explore", recipes))
        self.evolve = EvolvePanel(session)
        self.tabs.addTab(self.evolve, "Evolve")
        self.export_panel = None
        self._add_export_tab()
        self.library_panel = None
        self._add_library_tab()
        self.setCentralWidget(self.tabs)
        self._build_status_bar()

        session.status.connect(self.show_status)
        self.tabs.currentChanged.connect(lambda _i: self.statusBar().clearMessage())   # old news stays behind
        session.model_changed.connect(self._on_model)
        session.model_failed.connect(self._on_model_failed)
        session.download_started.connect(self._on_download)
        session.client.ready.connect(self._on_ready)
        session.client.busy.connect(self._on_busy)
        session.client.activity.connect(self._on_progress)
        self._refresh_recent()
        geometry = ui_state().value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)

    # -- building ---------------------------------------------------------------------------------
    def _build_model_bar(self) -> None:
        bar = QToolBar("Model")
        bar.setObjectName("model-bar")
        bar.setMovable(False)
        self.addToolBar(bar)
        open_action = QAction("Open model…", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self.choose_model)
        bar.addAction(open_action)
        self.recent_menu = QMenu("Recent", self)
        recent_button = QToolButton()
        recent_button.setText("Recent")
        recent_button.setMenu(self.recent_menu)
        recent_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        bar.addWidget(recent_button)
        self.get_models_action = QAction("Get models…", self)
        self.get_models_action.triggered.connect(self.get_models)
        bar.addAction(self.get_models_action)
        bar.addSeparator()
        self.model_label = QLabel("  No model open")
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar.addWidget(self.model_label)
        self.menuBar().addMenu(self._file_menu(open_action))
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("About GAN Art Studio", self)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)

    def _file_menu(self, open_action: QAction) -> QMenu:
        menu = QMenu("&File", self)
        menu.addAction(open_action)
        self.open_image_action = QAction("Open image…", self)
        self.open_image_action.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.open_image_action.setToolTip("Restore an image the studio made (PNG, TIFF, JPEG, WebP or a recipe .json): "
                                          "its model, seed and settings")
        self.open_image_action.triggered.connect(self.choose_image)
        menu.addAction(self.open_image_action)
        default_action = QAction("Open the default model", self)
        default_action.triggered.connect(lambda: self.session.open_model("default"))
        default_action.setEnabled(paths.default_network_path().is_file())
        menu.addAction(default_action)
        menu.addMenu(self.recent_menu)
        menu.addAction(self.get_models_action)
        blend_action = QAction("Blend models…", self)
        blend_action.setToolTip("Mix the open model with another, layer by layer, into a new model")
        blend_action.triggered.connect(self.blend_models)
        menu.addAction(blend_action)
        menu.addMenu(self._backend_menu())
        menu.addSeparator()
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        menu.addAction(quit_action)
        return menu

    def about_text(self) -> str:
        """The version, what renders where, and where the user's things live."""
        import platform

        from studio import __version__

        engine = getattr(self, "_engine", None) or {}
        device = (f"{engine['device'].upper()}, torch {engine['torch']}, {engine['threads']} threads" if engine
                  else "starting…")
        model = self.session.model or {}
        rows = [("Version", __version__), ("Device", device),
                ("Rendering", model.get("backend", self.session.settings.backend)),
                ("Python", f"{platform.python_version()} on {platform.system()} {platform.machine()}"),
                ("Settings", str(paths.config_dir())), ("Library and runs", str(paths.data_dir())),
                ("Downloads and caches", str(paths.cache_dir())), ("Bundled models", str(paths.bundled_models_dir()))]
        body = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows)
        return (f"<h3>GAN Art Studio</h3><p>A desktop art studio for style-based GANs.</p>"
                f"<table cellspacing='6'>{body}</table>")

    def show_about(self) -> None:
        QMessageBox.about(self, "About GAN Art Studio", self.about_text())

    def _backend_menu(self) -> QMenu:
        """Settings: what renders (PyTorch, ONNX Runtime, or whichever measured faster here)."""
        menu = QMenu("Rendering backend", self)
        group = QActionGroup(self)
        self.backend_actions = {}
        for key, text, tip in (
                ("torch", "PyTorch", "The studio's own networks (every feature)"),
                ("onnx", "ONNX Runtime", "The network's ONNX graph (exported once per model), on a GPU with "
                                         "onnxruntime-gpu; random noise, tiles and canvases still render with PyTorch"),
                ("auto", "Automatic", "Whichever measured faster on this kind of machine (benchmarks/backends.py): "
                                      "ONNX Runtime for a StyleGAN3 of up to 512 px on a CPU, or where only it has a "
                                      "GPU (onnxruntime-gpu); PyTorch otherwise")):
            action = QAction(text, self, checkable=True)
            action.setToolTip(tip)
            action.setChecked(self.session.settings.backend == key)
            action.triggered.connect(lambda _=False, k=key: self.session.set_backend(k))
            group.addAction(action)
            menu.addAction(action)
            self.backend_actions[key] = action
        menu.setToolTipsVisible(True)
        return menu

    def blend_models(self) -> None:
        if self.session.model is None:
            self.session.status.emit("Open a model first: the blend starts from it", 4000)
            return
        from studio.ui.blend_dialog import BlendDialog

        self.blend_dialog = BlendDialog(self.session, self)
        self.blend_dialog.show()

    def _add_export_tab(self) -> None:
        try:
            from studio.ui.panels.export import ExportPanel
        except ImportError:  # the post-processing engine is missing from this build
            return
        self.export_panel = ExportPanel(self.session)
        self.tabs.addTab(self.export_panel, "Export")
        from studio.ui.panels.train import TrainPanel

        self.train = TrainPanel(self.session)
        self.tabs.addTab(self.train, "Train")

    # -- moving images between panels (panels ask the window; none reaches into another) ------------
    def send_to_export(self, recipes: list, source: str | None = None) -> None:
        if self.export_panel is not None:
            self.tabs.setCurrentWidget(self.export_panel)
            self.export_panel.set_recipes(recipes, source)

    def send_to_mix(self, recipes: list, which: str = "form") -> None:
        """Images become the Style Mix's forms (or styles), each keeping its own look."""
        self.tabs.setCurrentWidget(self.mix)
        self.mix.set_sources(which, recipes)

    def show_explore(self) -> None:
        self.tabs.setCurrentWidget(self.stack)

    def _add_library_tab(self) -> None:
        try:
            from studio.ui.panels.library import LibraryPanel
        except ImportError:
            return
        self.library_panel = LibraryPanel(self.session)
        self.library_panel.open_recipe.connect(self.restore_recipe)
        self.library_panel.interpolate.connect(self._interpolate_favourites)
        self.tabs.addTab(self.library_panel, "Library")

    def _interpolate_favourites(self, recipes: list) -> None:
        if self.session.model is None or any(r.model.fingerprint != self.session.model["fingerprint"] for r in recipes):
            self.show_status("Open the model these favourites were made with first")
            return
        self.show_explore()
        self.explore.interpolate_recipes(recipes)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.device_label = QLabel("starting engine…")
        self._idle_timer = QTimer(self, singleShot=True, interval=300)
        self._idle_timer.timeout.connect(self._hide_progress_if_idle)
        self.cancel_download = QPushButton("Cancel download")
        self.cancel_download.setToolTip("Stop the download; opening the same link again goes on from where it stopped")
        self.cancel_download.hide()
        self.cancel_download.clicked.connect(self._cancel_download)
        self._download = None          # the Request of a model being downloaded
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.cancel_download)
        status.addPermanentWidget(self.device_label)

    # -- models -------------------------------------------------------------------------------------
    def choose_model(self) -> None:
        start = str(Path(self.session.settings.last_model).parent) if self.session.settings.last_model else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open a network", start, NETWORK_FILTER)
        if path:
            self.open_path(path)             # an image the studio made restores instead

    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an image the studio made", self._last_image_dir,
                                              IMAGE_FILTER)
        if path:
            self._last_image_dir = str(Path(path).parent)
            self.restore_from_file(path)

    def get_models(self) -> None:
        try:
            from studio.ui.get_models import GetModelsDialog
        except ImportError:
            QMessageBox.information(self, "Get models", "The model catalogue is not available in this build.")
            return
        dialog = GetModelsDialog(self)
        if dialog.exec() and dialog.chosen_url:
            self.session.open_model(dialog.chosen_url)

    def _refresh_recent(self) -> None:
        recent = self.session.settings.recent_models
        self.recent_menu.clear()
        for source in recent:
            action = self.recent_menu.addAction(source)
            action.triggered.connect(lambda _=False, s=source: self.session.open_model(s))
        self.recent_menu.setEnabled(bool(recent))
        self.empty.set_recent(recent)

    def _on_model(self, info: dict) -> None:
        self._end_download()       # whatever was downloading was replaced by what just opened
        conditional = f" · {info['c_dim']} classes" if info["c_dim"] else ""
        family = ARCHITECTURE_NAMES.get(info.get("variant") or info.get("kind"))
        family = f" · {family}" if family else ""
        self.model_label.setText(
            f"  <b>{info['name']}</b>{family} · {info['resolution']}×{info['resolution']} · {info['num_ws']} w layers"
            f"{conditional} · {info['params'] / 1e6:.1f} M params")
        self.model_label.setToolTip(f"{info['path']}\nfingerprint {info['fingerprint']}\n"
                                    f"rendered by {info.get('backend', 'PyTorch')}")
        self.setWindowTitle(f"{info['name']} — GAN Art Studio")
        self.stack.setCurrentWidget(self.explore)
        self._refresh_recent()

    def _on_model_failed(self, message: str) -> None:
        self._end_download()
        QMessageBox.warning(self, "Could not open the model", message)

    # -- status ---------------------------------------------------------------------------------------
    def show_status(self, text: str, timeout_ms: int = 0) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def _on_ready(self, info: dict) -> None:
        self._engine = info
        self.device_label.setText(f"{info['device'].upper()} · torch {info['torch']} · {info['threads']} threads")

    def _on_busy(self, busy: bool) -> None:
        if not busy:
            self._idle_timer.start()

    def _hide_progress_if_idle(self) -> None:
        if not self.session.client.running_jobs():
            self.progress.hide()

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.show()
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        if self._download is not None:      # a download counts KiB
            size = f"{done / 1024:.1f} of {total / 1024:.1f} MiB" if total else f"{done / 1024:.1f} MiB"
            self.progress.setFormat(size)
        else:
            self.progress.setFormat(f"{done}/{total}" if total else str(done))

    def _end_download(self) -> None:
        self._download = None
        self.cancel_download.hide()

    def _on_download(self, request) -> None:
        """Offer a Cancel button while a model downloads."""
        self._download = request
        self.cancel_download.show()
        self.cancel_download.setEnabled(True)

        def over(*_args) -> None:
            if self._download is request:
                self._end_download()

        request.on(finished=over, failed=over, cancelled=over)

    def _cancel_download(self) -> None:
        if self._download is not None:
            self._download.cancel()

    # -- drag and drop ----------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        urls = event.mimeData().urls()
        if urls and Path(urls[0].toLocalFile()).suffix.lower() in NETWORK_SUFFIXES | RECIPE_SUFFIXES:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        for url in event.mimeData().urls():
            self.open_path(url.toLocalFile())
            break

    def open_path(self, path: str) -> None:
        """A dropped or command-line file: a network opens; an image or JSON restores its recipe."""
        suffix = Path(path).suffix.lower()
        if suffix in RECIPE_SUFFIXES:
            self.restore_from_file(path)
        else:
            self.session.open_model(path)

    def restore_from_file(self, path: str) -> None:
        from studio.imaging.metadata import read_recipe

        try:
            recipe = read_recipe(path)
        except (ValueError, OSError) as exc:
            self.show_status(f"{Path(path).name}: {exc}")
            return
        if recipe is None:
            self.show_status(f"{Path(path).name} carries no studio recipe (only images the studio made do)")
            return
        self.restore_recipe(recipe)

    def restore_recipe(self, recipe) -> None:
        """Show the image a recipe describes, opening its model first when another one is open."""
        model = self.session.model
        if model is not None and model["fingerprint"] == recipe.model.fingerprint:
            self.show_explore()
            self.explore.show_recipe(recipe)
            return

        # the request's own signals: a restore superseded by another model opening goes quiet
        self.session.open_model_for(recipe).on(finished=lambda info: self._show_restored(recipe, info),
                                               failed=lambda message: self._ask_for_model(recipe, message))

    def _ask_for_model(self, recipe, message: str) -> None:
        """The studio does not know the image's model (a path inside an image is never opened on its
        own): say which one it needs and let the artist choose the file."""
        box = QMessageBox(QMessageBox.Icon.Question, "Which model made this image?",
                          f"{message}\n\nIf you have it, choose its file.",
                          QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Cancel, self)
        self._model_question = box

        def answered(result: int) -> None:
            if result != QMessageBox.StandardButton.Open:
                return
            path, _ = QFileDialog.getOpenFileName(self, f"The model '{recipe.model.name}'", "", NETWORK_FILTER)
            if path:
                self.session.open_model_for(recipe, given=path).on(
                    finished=lambda info: self._show_restored(recipe, info))

        box.finished.connect(answered)
        box.open()                      # not modal to the studio: the artist can look around first

    def _show_restored(self, recipe, info: dict) -> None:
        if info["fingerprint"] == recipe.model.fingerprint:
            self.show_explore()
            self.explore.show_recipe(recipe)

    # -- closing ------------------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802
        ui_state().setValue("window/geometry", self.saveGeometry())
        for dialog in self.findChildren(QDialog):   # large views and dialogs go with the window
            if dialog.isVisible():
                dialog.close()
        if getattr(self, "train", None) is not None:
            self.train.shutdown()
        self.session.shutdown()
        super().closeEvent(event)
