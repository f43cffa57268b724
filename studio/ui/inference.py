"""The inference thread: one long-lived worker that owns the networks; the UI never runs torch.

Panels post *jobs* under a *key* (``"explore.grid"``, ``"explore.large"``...). A job is a
callable run on the worker thread with a :class:`JobContext`; it calls engine functions and
streams results back through the context. Rules (DESIGN.md):

* **Latest wins per key.** A newer job with the same key replaces one still queued, and a
  running one sees ``ctx.cancelled()`` turn true, so it stops at its next check (between
  images or batches). Dragging a slider never queues fifty renders.
* **Stamps.** Every job gets an increasing stamp; results carry it and the client forwards
  only results whose stamp is still the newest for their key, so panels never see stale images.
* **Errors are messages.** An exception in a job becomes a ``failed`` signal with one line of
  text; the worker carries on.

torch and the engine are imported on the worker thread after the window is shown.
"""

from __future__ import annotations

import gc
import itertools
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, QThread, QTimer, Signal
from PySide6.QtGui import QImage

Job = Callable[["JobContext"], Any]


def array_to_qimage(array: np.ndarray) -> QImage:
    """uint8 [H, W, C] (C = 1, 3, 4) -> an independent QImage (safe to create off the UI thread)."""
    array = np.ascontiguousarray(array)
    h, w = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    fmt = {1: QImage.Format.Format_Grayscale8, 3: QImage.Format.Format_RGB888,
           4: QImage.Format.Format_RGBA8888}[channels]
    return QImage(array.data, w, h, w * channels, fmt).copy()


@dataclass
class WorkerState:
    """What the worker holds between jobs: the open model and anything expensive to reload."""

    renderer: Any = None            # studio.gan.render.Renderer of the open model
    device: str = "cpu"
    backend: str = "torch"          # what renders (the Settings' choice): torch, onnx or auto
    extras: dict[str, Any] = field(default_factory=dict)


class JobContext:
    """Passed to a job: the worker's state and the ways to report back."""

    def __init__(self, worker: "InferenceWorker", key: str, stamp: int):
        self._worker, self.key, self.stamp = worker, key, stamp
        self.state = worker.state

    @property
    def renderer(self):
        if self.state.renderer is None:
            raise RuntimeError("no model is open: open one with Model > Open model...")
        return self.state.renderer

    def cancelled(self) -> bool:
        """True once a newer job with this key was posted, the key was cancelled, or the app quits."""
        return self._worker.is_stale(self.key, self.stamp)

    def emit_image(self, tag: Any, image: np.ndarray, extra: Any = None) -> None:
        """Stream one image (uint8 [H, W, C]) with a tag the panel understands (seed, index...)."""
        self._worker.image_ready.emit(self.key, self.stamp, tag, array_to_qimage(image), extra)

    def emit_progress(self, done: int, total: int) -> None:
        self._worker.progress.emit(self.key, self.stamp, done, total)

    def emit(self, payload: Any) -> None:
        """Stream any other result (a dict of figures, a path...)."""
        self._worker.message.emit(self.key, self.stamp, payload)


@dataclass
class _Request:
    key: str
    stamp: int
    job: Job


class InferenceWorker(QThread):
    """The worker thread. Signals (all queued to the UI thread):

    * ``ready(dict)``: torch imported; ``{'device': ..., 'torch': version, 'threads': n}``.
    * ``started_job(key, stamp)`` and ``finished(key, stamp, result)``: a job began / returned.
    * ``failed(key, stamp, message)``: a job raised; ``message`` is one line.
    * ``image_ready(key, stamp, tag, QImage, extra)``: one streamed image.
    * ``progress(key, stamp, done, total)``.
    * ``message(key, stamp, payload)``: any other streamed result.
    """

    ready = Signal(dict)
    started_job = Signal(str, int)
    finished = Signal(str, int, object)
    failed = Signal(str, int, str)
    image_ready = Signal(str, int, object, QImage, object)
    progress = Signal(str, int, int, int)
    message = Signal(str, int, object)

    def __init__(self, *, device: str = "auto", parent: QObject | None = None):
        super().__init__(parent)
        self.setObjectName("studio-inference")
        self.state = WorkerState()
        self._device_pref = device
        self._cond = threading.Condition()
        self._pending: "OrderedDict[str, _Request]" = OrderedDict()
        self._latest: dict[str, int] = {}
        self._stamps = itertools.count(1)
        self._stopping = False
        self.coalesced = 0       # queued jobs replaced by a newer one with the same key
        self.completed = 0

    # -- called from any thread ----------------------------------------------------------------
    def submit(self, key: str, job: Job) -> int:
        """Queue ``job`` under ``key``; returns its stamp. Replaces a queued job with that key."""
        with self._cond:
            stamp = next(self._stamps)
            if key in self._pending:
                self.coalesced += 1
                del self._pending[key]
            self._pending[key] = _Request(key, stamp, job)
            self._latest[key] = stamp
            self._cond.notify()
            return stamp

    def cancel(self, key: str) -> None:
        """Drop a queued job and make a running one stop at its next check."""
        with self._cond:
            self._pending.pop(key, None)
            self._latest[key] = next(self._stamps)

    def is_stale(self, key: str, stamp: int) -> bool:
        return self._stopping or self._latest.get(key) != stamp

    def is_current(self, key: str, stamp: int) -> bool:
        return self._latest.get(key) == stamp

    def stop(self, wait_ms: int = 5000) -> None:
        """Ask the thread to finish (running jobs stop at their next check) and wait for it."""
        with self._cond:
            self._stopping = True
            self._pending.clear()
            self._cond.notify_all()
        self.wait(wait_ms)

    # -- the thread ----------------------------------------------------------------------------
    def run(self) -> None:  # noqa: D401  (QThread entry point)
        try:
            info = self._start_engine()
        except Exception as exc:  # torch missing or broken: say so, keep the window alive
            self.failed.emit("worker", 0, f"the inference engine could not start: {exc}")
            return
        self.ready.emit(info)
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                _, request = self._pending.popitem(last=False)
            self._run(request)

    def _start_engine(self) -> dict:
        import torch  # the first heavy import happens here, off the UI thread

        from studio.core.device import pick_device
        from studio.core.runtime import tune_allocator

        tune_allocator()
        device = pick_device(self._device_pref)
        self.state.device = str(device)
        return {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads()}

    def _run(self, request: _Request) -> None:
        ctx = JobContext(self, request.key, request.stamp)
        if ctx.cancelled():
            return
        self.started_job.emit(request.key, request.stamp)
        try:
            result = request.job(ctx)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message
            self.failed.emit(request.key, request.stamp, _one_line(exc))
            if not _is_user_error(exc):
                traceback.print_exc()
            return
        self.completed += 1
        self.finished.emit(request.key, request.stamp, result)


def _is_user_error(exc: BaseException) -> bool:
    from studio.core.errors import StudioError

    return isinstance(exc, (StudioError, ValueError, FileNotFoundError))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class MainThreadGC(QObject):
    """While a worker thread runs, garbage is collected only on the UI thread.

    Python's cyclic collector runs on whichever thread happens to allocate; if that is the
    worker, it can destroy Qt widgets off the UI thread and crash the process. So automatic
    collection is switched off while any worker lives, and a timer on the UI thread collects
    instead, with the same generation thresholds.
    """

    _users = 0
    _instance: "MainThreadGC | None" = None

    def __init__(self):
        super().__init__()
        self._timer = QTimer(self)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self.collect)

    @classmethod
    def acquire(cls) -> None:
        if cls._instance is None:
            cls._instance = cls()
        cls._users += 1
        if cls._users == 1:
            gc.disable()
            cls._instance._timer.start()

    @classmethod
    def release(cls) -> None:
        if cls._users == 0:
            return
        cls._users -= 1
        if cls._users == 0 and cls._instance is not None:
            cls._instance._timer.stop()
            gc.collect()
            gc.enable()

    @staticmethod
    def collect() -> None:
        counts, limits = gc.get_count(), gc.get_threshold()
        generation = max((g for g in range(3) if counts[g] > limits[g]), default=None)
        if generation is not None:
            gc.collect(generation)


class Request(QObject):
    """One submitted job's own channel: its results come here and nowhere else.

    Signals: ``image(tag, QImage, extra)``, ``progress(done, total)``, ``message(payload)``,
    ``finished(result)``, ``failed(message)``, ``cancelled()``. Only a request that is still the
    newest for its key hears anything: a superseded one goes quiet, a cancelled one hears
    ``cancelled`` (so a panel can give its buttons back) and then nothing. A failure that nobody listens
    for is not lost: the client reports it as ``unhandled_error`` (the status bar shows it).
    """

    image = Signal(object, QImage, object)
    progress = Signal(int, int)
    message = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, client: "InferenceClient", key: str, stamp: int):
        super().__init__()          # no Qt parent: Python owns it, and it goes when nobody holds it
        self._client, self.key, self.stamp = client, key, stamp

    def on(self, *, image=None, progress=None, message=None, finished=None, failed=None,
           cancelled=None) -> "Request":
        """Connect handlers in one call; returns the request (``submit(...).on(image=...)``)."""
        for signal, slot in ((self.image, image), (self.progress, progress), (self.message, message),
                             (self.finished, finished), (self.failed, failed), (self.cancelled, cancelled)):
            if slot is not None:
                signal.connect(slot)
        return self

    def is_current(self) -> bool:
        return self._client.is_current(self.key, self.stamp)

    def cancel(self) -> None:
        """Stop this job (if it is still the newest for its key)."""
        if self.is_current():
            self._client.cancel(self.key)

    def has_failure_handler(self) -> bool:
        return self.receivers(SIGNAL_FAILED) > 0


SIGNAL_FAILED = "2failed(QString)"   # Qt's signature string for Request.failed, for receivers()


class InferenceClient(QObject):
    """The UI-thread face of the worker: hands each result to the request that asked for it.

    ``submit(key, job)`` returns a :class:`Request` whose signals carry that job's images,
    progress, messages, result or failure, while it is the newest request for its key; stale
    results never reach anyone. Window-wide signals: ``ready(dict)`` (torch loaded),
    ``busy(bool)`` (some job is running), ``activity(done, total)`` (progress of whatever runs, for
    the status bar's meter), ``unhandled_error(message)`` (a failure no request listened for, or
    the engine failing to start).
    """

    ready = Signal(dict)
    busy = Signal(bool)
    activity = Signal(int, int)
    unhandled_error = Signal(str)

    def __init__(self, *, device: str = "auto", parent: QObject | None = None):
        super().__init__(parent)
        self.worker = InferenceWorker(device=device)
        self.device_info: dict = {}
        self._running: set[tuple[str, int]] = set()
        self._requests: dict[str, Request] = {}     # the newest request of each key
        w = self.worker
        w.ready.connect(self._on_ready)
        w.image_ready.connect(self._on_image)
        w.progress.connect(self._on_progress)
        w.message.connect(self._on_message)
        w.started_job.connect(self._on_started)
        w.finished.connect(self._on_finished)
        w.failed.connect(self._on_failed)

    def start(self) -> None:
        MainThreadGC.acquire()
        self._gc_held = True
        self.worker.start(QThread.Priority.LowPriority)

    def submit(self, key: str, job: Job) -> Request:
        """Queue ``job`` under ``key`` (replacing a queued one with that key); returns its request."""
        stamp = self.worker.submit(key, job)
        request = Request(self, key, stamp)
        self._requests[key] = request       # replaces (and so silences) an older request of the key
        return request

    def cancel(self, key: str) -> None:
        self.worker.cancel(key)
        request = self._requests.pop(key, None)
        if request is not None:
            request.cancelled.emit()

    def is_current(self, key: str, stamp: int) -> bool:
        return self.worker.is_current(key, stamp)

    def running_jobs(self) -> int:
        return len(self._running)

    def shutdown(self) -> None:
        self.worker.stop()
        if getattr(self, "_gc_held", False):
            self._gc_held = False
            MainThreadGC.release()

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """For tests and scripts: process events until no job is queued or running."""
        from PySide6.QtCore import QCoreApplication

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            QCoreApplication.processEvents()
            with self.worker._cond:
                idle = not self.worker._pending
            if idle and not self._running:
                QCoreApplication.processEvents()
                return True
            time.sleep(0.005)
        return False

    # -- delivery ------------------------------------------------------------------------------
    def _request(self, key: str, stamp: int) -> Request | None:
        """The request a result belongs to, while it is still the newest for its key."""
        request = self._requests.get(key)
        if request is None or request.stamp != stamp or not self.is_current(key, stamp):
            return None
        return request

    def _on_ready(self, info: dict) -> None:
        self.device_info = info
        self.ready.emit(info)

    def _on_started(self, key: str, stamp: int) -> None:
        self._running.add((key, stamp))
        self.busy.emit(True)

    def _done(self, key: str, stamp: int) -> Request | None:
        self._running.discard((key, stamp))
        if not self._running:
            self.busy.emit(False)
        request = self._request(key, stamp)
        if request is not None:
            del self._requests[key]
        return request

    def _on_image(self, key, stamp, tag, image, extra) -> None:
        request = self._request(key, stamp)
        if request is not None:
            request.image.emit(tag, image, extra)

    def _on_progress(self, key, stamp, done, total) -> None:
        request = self._request(key, stamp)
        if request is not None:
            self.activity.emit(done, total)
            request.progress.emit(done, total)

    def _on_message(self, key, stamp, payload) -> None:
        request = self._request(key, stamp)
        if request is not None:
            request.message.emit(payload)

    def _on_finished(self, key, stamp, result) -> None:
        request = self._done(key, stamp)
        if request is not None:
            request.finished.emit(result)

    def _on_failed(self, key, stamp, message) -> None:
        if key == "worker":                 # the engine itself could not start
            self.unhandled_error.emit(message)
            return
        request = self._done(key, stamp)
        if request is None:
            return
        if request.has_failure_handler():
            request.failed.emit(message)
        else:
            self.unhandled_error.emit(message)
