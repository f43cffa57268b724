"""What the panels share: the inference client, the open model, the library, the settings.

Signals:
* ``model_changed(dict)``: a model finished loading (the dict from ``studio.app.models.model_info``).
* ``model_failed(str)``: opening a model failed, with the reason.
* ``download_started(Request)``: a model is being downloaded; cancelling the request stops it.
* ``status(str, int)``: a message for the status bar and how long to show it (ms, 0 = until replaced).
* ``starred(int)``: an image was added to the library (its id).

Shared state: ``clip`` (:class:`studio.app.state.ClipChoice`), the CLIP every prompt is scored
with, set in the Evolve panel and used by Explore's Find by prompt; ``selections`` (each panel's
selected recipes, for the panels that take images from another).
"""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, Signal
from PySide6.QtGui import QImage

from studio.app.state import ClipChoice
from studio.core.settings import Settings, load_settings, save_settings
from studio.ui import jobs
from studio.ui.inference import InferenceClient

MODEL_KEY = "model.load"


def qimage_to_png(image: QImage, max_side: int | None = None) -> bytes:
    if max_side and max(image.width(), image.height()) > max_side:
        from PySide6.QtCore import Qt

        image = image.scaled(max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


BACKEND_NAMES = {"torch": "PyTorch", "onnx": "ONNX Runtime", "auto": "the faster backend for this machine"}


class StudioSession(QObject):
    model_changed = Signal(dict)
    model_failed = Signal(str)
    download_started = Signal(object)      # the Request of a model being downloaded
    status = Signal(str, int)
    starred = Signal(int)

    def __init__(self, *, client: InferenceClient | None = None, settings: Settings | None = None, library=None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings or load_settings()
        self.clip = ClipChoice(self.settings.clip, self.settings.clip_config)   # the CLIP every prompt uses
        self.client = client or InferenceClient(device=self.settings.device, parent=self)
        self.client.worker.state.backend = self.settings.backend     # before the worker starts
        self.model: dict | None = None
        self.selections: dict[str, list] = {}   # panel name -> recipes of its current selection
        self._library = library
        self._pending_source: str | None = None
        self.client.unhandled_error.connect(lambda message: self.status.emit(message, 0))

    # -- the library opens lazily (first star / first visit of the Library panel) ----------------
    @property
    def library(self):
        if self._library is None:
            from studio.core.paths import library_db_path
            from studio.library import Library

            self._library, damaged = Library.open_or_recover(library_db_path())
            if damaged is not None:
                self.status.emit(str(damaged), 0)
        return self._library

    # -- models ----------------------------------------------------------------------------------
    def open_model(self, source: str):
        """Load a network file or URL on the worker; ``model_changed`` follows. A URL is downloaded
        first (``download_started`` hands the window its request, so it can show a Cancel button)."""
        from studio.hub.download import is_url

        self._pending_source = source
        request = self.client.submit(MODEL_KEY, jobs.load_model(source)).on(
            finished=self._on_model_loaded, failed=self._on_model_failed)
        if is_url(source):
            self.status.emit(f"Downloading {source} …", 0)
            request.on(cancelled=lambda: self.status.emit(
                "Download cancelled; open the same link again to go on from where it stopped", 0))
            self.download_started.emit(request)
        else:
            self.status.emit(f"Opening {source} …", 0)
        return request

    def open_model_for(self, recipe, given: str | None = None):
        """Find and load the model ``recipe`` was made with (``studio.app.models.find_model``'s rule:
        the recipe's path, the library's, the bundled default; the fingerprint must match)."""
        self.status.emit(f"Looking for '{recipe.model.name}' to restore the image …", 0)
        library_path = None
        try:
            library_path = str(self.library.path)
        except Exception:  # noqa: BLE001 - without a library the other places are still tried
            pass
        self._pending_source = None
        # not found is a status line, not the "could not open" dialog: nothing the artist chose failed
        return self.client.submit(MODEL_KEY, jobs.load_model_for_recipe(recipe.to_json(), library_path, given)).on(
            finished=self._on_model_loaded, failed=lambda message: self.status.emit(message, 0))

    def _on_model_loaded(self, result: dict) -> None:
        self.model = result
        self.settings.add_recent(self._pending_source or result["path"])
        self._save_settings()
        try:
            self.library.remember_model(result["fingerprint"], result["name"], result["path"])
        except Exception:  # noqa: BLE001 - a library problem must not block opening a model
            pass
        warnings = result.get("warnings") or []
        if warnings:
            self.status.emit(f"Opened {result['name']}, but note: " + "; ".join(warnings), 0)
        else:
            self.status.emit(f"Opened {result['name']}", 4000)
        self.model_changed.emit(result)

    def set_backend(self, backend: str):
        """Render with ``backend`` (torch, onnx, auto) from now on, and remember it; the open model is set
        up again with it (and its panels re-render)."""
        self.settings.backend = backend
        self._save_settings()
        self.status.emit("Switching the rendering backend …", 0)

        def done(result: dict | None) -> None:
            if result is None:
                self.status.emit(f"Models will render with {BACKEND_NAMES.get(backend, backend)}", 4000)
                return
            self.model = result
            notes = "; ".join(result.get("warnings") or [])
            self.status.emit(f"Rendering with {result['backend']}" + (f" ({notes})" if notes else ""), 0 if notes else 5000)
            self.model_changed.emit(result)

        return self.client.submit(MODEL_KEY, jobs.set_backend(backend)).on(
            finished=done, failed=lambda message: self.status.emit(message, 0))

    def _on_model_failed(self, message: str) -> None:
        self.model_failed.emit(message)
        self.status.emit(f"Could not open the model: {message}", 0)

    def _save_settings(self) -> None:
        try:
            save_settings(self.settings)
        except OSError as exc:
            self.status.emit(f"Settings not saved: {exc}", 6000)

    def remember_clip(self, spec: str, config: str | None) -> None:
        """The CLIP the artist chose last is the one every panel and command uses next time."""
        self.clip.update(spec=spec, config=config)
        spec, config = self.clip.spec, self.clip.config
        if (self.settings.clip, self.settings.clip_config) != (spec, config):
            self.settings.clip, self.settings.clip_config = spec, config
            self._save_settings()

    # -- curation --------------------------------------------------------------------------------
    def star(self, recipe, image: QImage, *, source: str) -> int | None:
        """Add an image (with its recipe) to the library; returns its id."""
        try:
            image_id = self.library.star(recipe, qimage_to_png(image, 256), source=source,
                                         size=(image.width(), image.height()))
        except Exception as exc:  # noqa: BLE001 - surface, never crash
            self.status.emit(f"Could not star the image: {exc}", 0)
            return None
        self.status.emit("Starred — it is in the Library", 3000)
        self.starred.emit(image_id)
        return image_id

    def model_ref(self):
        from studio.gan.recipe import ModelRef

        m = self.model
        return ModelRef(m["fingerprint"], m["name"], m["path"]) if m else None

    def shutdown(self) -> None:
        self.client.shutdown()
        if self._library is not None:
            self._library.close()
