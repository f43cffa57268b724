"""Train: fine-tune a model on a folder of images, in a worker process, across days.

The tab talks to the trainer only through its process (QProcess: ``python -m studio.training``)
and its run folder: JSON lines on stdout (progress, snapshot, metric, log, error, done),
``training_options.json``, ``stats.jsonl``, snapshots and preview grids. Stop asks for a
graceful stop (a STOP file: the worker finishes its step and writes a snapshot); if the worker
dies — or the studio is closed — at most the steps since the last snapshot are lost, and the
tab says what happened.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from PySide6.QtCore import QProcess, Qt, QTimer
from PySide6.QtGui import QPixmap
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
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.app import runs
from studio.training.default_model import TRAINING_DEFAULTS
from studio.ui.session import StudioSession
from studio.ui.widgets.class_combo import fill_class_combo
from studio.ui.widgets.layout import path_row, sidebar

KILL_AFTER_MS = 60_000


class Curves(QWidget):
    """Loss, ADA p and metric curves (pyqtgraph), or a plain text summary without it."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.series: dict[str, tuple[list, list]] = {}
        try:
            import os

            os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
            import pyqtgraph as pg
        except ImportError:
            self.plots = None
            self.text = QLabel("(install pyqtgraph for curves)")
            layout.addWidget(self.text)
            return
        pg.setConfigOptions(antialias=True, background="#202024", foreground="#ddd")
        self.plots = {}
        for name, title in (("loss", "Losses"), ("p", "ADA p"), ("metric", "FD-CLIP")):
            plot = pg.PlotWidget(title=title)
            plot.addLegend(offset=(5, 5))
            plot.setLabel("bottom", "kimg")
            plot.getAxis("bottom").enableAutoSIPrefix(False)     # never "kimg (x0.001)"
            layout.addWidget(plot)
            self.plots[name] = plot
        self.curves = {}
        self._pg = pg

    def add(self, plot: str, name: str, x: float, y: float) -> None:
        xs, ys = self.series.setdefault(name, ([], []))
        xs.append(x)
        ys.append(y)
        if self.plots is None:
            return
        if name not in self.curves:
            colors = ["#f5a623", "#4a90e2", "#7ed321", "#d0021b", "#bd10e0"]
            self.curves[name] = self.plots[plot].plot(name=name, pen=colors[len(self.curves) % len(colors)])
        self.curves[name].setData(xs, ys)

    def clear(self) -> None:
        self.series.clear()
        if self.plots is not None:
            for curve in self.curves.values():
                curve.clear()


class TrainPanel(QWidget):
    def __init__(self, session: StudioSession, parent=None):
        super().__init__(parent)
        self.session = session
        self.process: QProcess | None = None
        self.run_dir: Path | None = None
        self._buffer = b""
        self._stopping = False
        self._started = 0.0
        self.extra_options: dict = {}   # any other TrainingOptions field (advanced use, tests)

        form = self._build_form()
        scroll = sidebar(form, 320)

        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m kimg")
        self.status = QLabel("No run yet.")
        self.status.setWordWrap(True)
        self.preview_kind = QComboBox()
        self.preview_kind.addItem("Samples (fixed seeds)", "preview")
        self.preview_kind.addItem("Reals as D sees them (at the current ADA p)", "augment")
        self.preview_kind.addItem("Reals", "reals")
        self.preview_kind.currentIndexChanged.connect(lambda _i: self._show_newest_preview())
        self.preview = QLabel("The newest preview grid appears here.")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(320, 320)
        self.preview.setStyleSheet("background: #202024; color: #ddd;")
        self.curves = Curves()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.open_snapshot = QPushButton("Open newest snapshot in Explore")
        self.open_snapshot.setEnabled(False)
        self.open_snapshot.clicked.connect(self.open_in_explore)

        middle = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(self.preview_kind)
        left.addWidget(self.preview, 1)
        middle.addLayout(left, 1)
        middle.addWidget(self.curves, 1)
        right = QVBoxLayout()
        right.addWidget(self.progress)
        right.addWidget(self.status)
        right.addLayout(middle, 3)
        right.addWidget(self.open_snapshot)
        right.addWidget(QLabel("Log"))
        right.addWidget(self.log, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(scroll)
        layout.addLayout(right, 1)

        self._poll = QTimer(self, interval=2000)
        self._poll.timeout.connect(self._poll_run_folder)
        self.refresh_runs()

    # -- form -----------------------------------------------------------------------------------------
    def _build_form(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        data = QGroupBox("Dataset")
        df = QFormLayout(data)
        self.data_edit = QLineEdit()
        self.data_edit.setPlaceholderText("a prepared dataset folder (studio prepare / procedural)")
        df.addRow("Folder", path_row(self.data_edit, self._choose_data, "…"))
        self.prepare_btn = QPushButton("Prepare a folder of pictures…")
        self.prepare_btn.clicked.connect(self.prepare_dataset)
        df.addRow(self.prepare_btn)
        self.data_info = QLabel()
        self.data_info.setWordWrap(True)
        df.addRow(self.data_info)
        v.addWidget(data)

        cfg = QGroupBox("Training")
        cf = QFormLayout(cfg)
        self.start_from = QComboBox()
        self.start_from.addItem("From scratch", "scratch")
        self.start_from.addItem("Fine-tune the open model", "model")
        self.start_from.addItem("Fine-tune a file…", "file")
        self.kimg = QDoubleSpinBox(minimum=0.05, maximum=100000, value=200, decimals=2, suffix=" kimg")
        self.preset = QComboBox()
        for key, text in (("default-abstract", "Default abstract (trains on a CPU)"), ("small", "Small (quick sketches)"),
                          ("auto", "Auto"), ("paper256", "Paper 256"),
                          ("dcgan", "DCGAN (64/128 px sketches)"), ("stylegan3-t", "StyleGAN3-T"),
                          ("stylegan3-r", "StyleGAN3-R (rotation equivariant)")):
            self.preset.addItem(text, key)
        self.batch = QSpinBox(minimum=2, maximum=256, value=8)
        self.gamma = QDoubleSpinBox(minimum=0.0, maximum=1000.0, value=0.0, decimals=4)
        self.gamma.setSpecialValueText("auto")
        self.aug = QComboBox()
        for key, text in (("ada", "ADA (adaptive)"), ("noaug", "None"), ("fixed", "Fixed p")):
            self.aug.addItem(text, key)
        self.target = QDoubleSpinBox(minimum=0.0, maximum=1.0, value=0.6, singleStep=0.05)
        self.p = QDoubleSpinBox(minimum=0.0, maximum=1.0, value=0.0, singleStep=0.01, decimals=3)
        self.mirror = QCheckBox("Mirror (x-flip)")
        self.mirror.setChecked(True)
        self.cond = QCheckBox("Conditional (dataset labels)")
        self.clip_d = QCheckBox("CLIP discriminator")
        self.clip_d.setToolTip("A second discriminator judges each image by the CLIP's features (the CLIP set in "
                               "Evolve): it rewards the shapes, colours and compositions the CLIP knows. Slower per "
                               "image, faster to a recognisable picture")
        self.mode_seeking = QCheckBox("Mode seeking (more variety)")
        self.mode_seeking.setToolTip("Pairs of latents of the same class are pushed to give different pictures: "
                                     "against a generator that draws one picture per class (MSGAN)")
        self.as_class = QComboBox()
        self.as_class.setToolTip("The open model is conditional and this dataset has no labels: "
                                 "every image trains this class")
        self.as_class_label = QLabel("Train as class")
        self.snap = QSpinBox(minimum=1, maximum=1000, value=10, suffix=" ticks (40 kimg)")
        self.snap.valueChanged.connect(lambda n: self.snap.setSuffix(f" ticks ({n * 4:g} kimg)"))
        self.snap.setToolTip("A tick is 4 kimg (4,000 images shown to the discriminator): a progress line and a "
                             "point on the curves. A snapshot (and a preview grid) is written every this many "
                             "ticks, at every stop and at the end")
        self.freeze_d = QSpinBox(minimum=0, maximum=10, value=0)
        self.blur = QDoubleSpinBox(minimum=0.0, maximum=32.0, value=0.0, decimals=1, suffix=" px")
        self.blur.setSpecialValueText("off")
        self.blur.setToolTip("Blur what the discriminator sees by this much at the start, fading to none at "
                             "100 kimg: the generator learns composition before texture (from scratch: try 8)")
        for label, widget in (("Start", self.start_from), ("Network size", self.preset), ("Length", self.kimg),
                              ("Batch", self.batch),
                              ("R1 gamma", self.gamma), ("Augment", self.aug), ("ADA target", self.target),
                              ("Initial p", self.p), ("Snapshot every", self.snap), ("Freeze D layers", self.freeze_d),
                              ("Blur D at start", self.blur)):
            cf.addRow(label, widget)
        cf.addRow(self.mirror)
        cf.addRow(self.cond)
        cf.addRow(self.clip_d)
        cf.addRow(self.mode_seeking)
        cf.addRow(self.as_class_label, self.as_class)
        v.addWidget(cfg)
        self.start_from.currentIndexChanged.connect(self._update_as_class)
        self.cond.toggled.connect(self._update_as_class)
        self.session.model_changed.connect(self._on_model)
        self._update_as_class()

        buttons = QHBoxLayout()
        self.start_btn = QPushButton("Start")
        self.resume_btn = QPushButton("Resume")
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setEnabled(False)
        for b in (self.start_btn, self.resume_btn, self.stop_btn):
            buttons.addWidget(b)
        v.addLayout(buttons)

        runs = QGroupBox("Runs")
        rv = QVBoxLayout(runs)
        self.runs = QListWidget()
        self.runs.setMinimumHeight(140)
        rv.addWidget(self.runs)
        v.addWidget(runs)
        v.addStretch(1)

        self.start_btn.clicked.connect(self.start)
        self.resume_btn.clicked.connect(self.resume)
        self.stop_btn.clicked.connect(self.stop)
        self.data_edit.editingFinished.connect(self._describe_data)
        self.runs.currentItemChanged.connect(self._on_run_selected)
        return w

    def _choose_data(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Prepared dataset", self.data_edit.text() or str(Path.home()))
        if folder:
            self.data_edit.setText(folder)
            self._describe_data()

    def prepare_dataset(self) -> None:
        from studio.ui.prepare_dialog import PrepareDialog

        dialog = PrepareDialog(self.session, self)
        if dialog.exec() and dialog.prepared:
            self.data_edit.setText(dialog.prepared)
            self._describe_data()

    def _describe_data(self) -> None:
        folder = Path(self.data_edit.text().strip()).expanduser()
        meta = folder / "studio-dataset.json"
        if not meta.exists():
            self.data_info.setText("Not a prepared dataset: prepare a folder of images first "
                                   "(`studio prepare SRC DEST --res 128`).")
            return
        try:
            info = json.loads(meta.read_text())
        except (OSError, ValueError) as exc:
            self.data_info.setText(f"studio-dataset.json is unreadable: {exc}")
            return
        labels = info.get("label_names")
        res = int(info.get("resolution") or 256)
        # defaults from the resolution (the trainer sizes the network from the dataset itself)
        self.batch.setValue({64: 16, 128: 8, 256: 8, 512: 4}.get(res, 4))
        self.data_info.setText(f"{info.get('count', '?'):,} images at {info.get('resolution')} px"
                               + (f", {len(labels)} classes" if labels else ""))
        self.cond.setEnabled(bool(labels))
        self._update_as_class()

    def _on_model(self, info: dict) -> None:
        fill_class_combo(self.as_class, info)
        self._update_as_class()

    def _fixed_class_needed(self) -> bool:
        """Fine-tuning the open conditional model on a dataset without (used) labels."""
        return (self.start_from.currentData() == "model" and self.as_class.count() > 0
                and not (self.cond.isChecked() and self.cond.isEnabled()))

    def _update_as_class(self, *_args) -> None:
        needed = self._fixed_class_needed()
        self.as_class.setVisible(needed)
        self.as_class_label.setVisible(needed)

    # -- runs -----------------------------------------------------------------------------------------
    def refresh_runs(self) -> None:
        current = self.run_dir
        self.runs.blockSignals(True)   # refilling the list must not reload a run's history
        self.runs.clear()
        for run in runs.list_runs(runs.default_runs_dir()):
            folder = run.folder
            running = self.process is not None and folder == self.run_dir
            text = f"{run.name} — {run.kimg:.1f} kimg" + (" · running" if running else "")
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, str(folder))
            self.runs.addItem(item)
            if current is not None and folder == current:
                self.runs.setCurrentItem(item)
        self.runs.blockSignals(False)

    def _on_run_selected(self, item, _previous=None) -> None:
        if item is None or self.process is not None:
            return
        self.run_dir = Path(item.data(Qt.ItemDataRole.UserRole))
        self._load_run_history()

    def _load_run_history(self) -> None:
        self._load_curves()
        self._show_newest_preview()
        snapshot = runs.read_run(self.run_dir).snapshot
        self.open_snapshot.setEnabled(snapshot is not None)
        self.status.setText(f"{self.run_dir.name}: newest snapshot {snapshot.name if snapshot else 'none'}")

    def _load_curves(self) -> None:
        """The run's curves so far, from its stats and metrics files."""
        self.curves.clear()
        for stats in runs.read_stats(self.run_dir):
            self._add_stats(stats)
        for metric in runs.read_metrics(self.run_dir):
            self._add_metric(metric)

    # -- the worker process ---------------------------------------------------------------------------
    def options(self) -> dict:
        options = {
            "data": self.data_edit.text().strip(), "kimg": self.kimg.value(), "batch": self.batch.value(),
            "gamma": self.gamma.value() or None, "aug": self.aug.currentData(), "target": self.target.value(),
            "p": self.p.value(), "mirror": self.mirror.isChecked(), "cond": self.cond.isChecked() and
            self.cond.isEnabled(), "snap": self.snap.value(), "freeze_d": self.freeze_d.value(),
            "blur_sigma": self.blur.value(),   # the two checkboxes: the default model's weights
            "clip_d": TRAINING_DEFAULTS["clip_d"] if self.clip_d.isChecked() else 0.0,
            "mode_seeking": TRAINING_DEFAULTS["mode_seeking"] if self.mode_seeking.isChecked() else 0.0,
            "preset": self.preset.currentData(), **self.extra_options,
        }
        source = self.start_from.currentData()
        if source == "model" and self.session.model:
            options["resume"] = self.session.model["path"]   # pictures of another size: the trainer resizes
            if self._fixed_class_needed():
                options["as_class"] = self.as_class.currentData()
        elif source == "file":
            path, _ = QFileDialog.getOpenFileName(self, "Network to fine-tune", str(Path.home()),
                                                  "Networks (*.pkl *.pt *.safetensors)")
            if path:
                options["resume"] = path
        return options

    def start(self) -> None:
        """A new run folder for the form's options (``studio train``'s scheme), and its worker."""
        if not Path(self.data_edit.text().strip()).expanduser().is_dir():
            self.session.status.emit("Choose a prepared dataset folder first", 4000)
            return
        try:
            options = runs.resolve_options(self.options(), runs.default_runs_dir())
        except ValueError as exc:
            self.session.status.emit(f"Training: {exc}", 0)
            return
        self.run_dir = Path(options.run_dir)
        self._launch(options)

    def resume(self) -> None:
        item = self.runs.currentItem()
        if item is None:
            self.session.status.emit("Pick a run to resume in the list", 4000)
            return
        try:
            options = runs.resume_options(runs.read_run(item.data(Qt.ItemDataRole.UserRole)), kimg=self.kimg.value())
        except ValueError as exc:
            self.session.status.emit(f"Training: {exc}", 0)
            return
        self.run_dir = Path(options.run_dir)
        self._launch(options)

    def _launch(self, options) -> None:
        command = runs.worker_command(self.run_dir, runs.write_requested(options))
        self.process = QProcess(self)
        self.process.setProgram(command[0])
        self.process.setArguments(command[1:])
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._on_finished)
        self.process.errorOccurred.connect(self._on_process_error)
        self._buffer = b""
        self._stopping = False
        self._started = time.monotonic()
        self._load_curves()                  # a resumed run keeps its history; a new one starts empty
        self.log.appendPlainText(f"starting a training run in {self.run_dir}")
        self.progress.setMaximum(max(1, int(options.kimg or 1)))
        self.process.start()
        self._set_running(True)
        self._poll.start()
        self.refresh_runs()

    def stop(self) -> None:
        """Ask for a graceful stop: the worker finishes its step and writes a snapshot."""
        if self.process is None or self.run_dir is None:
            return
        runs.request_stop(self.run_dir)
        self._stopping = True
        self.status.setText("Stopping: finishing the current step and writing a snapshot …")
        QTimer.singleShot(KILL_AFTER_MS, self, self._kill_if_still_running)

    def _kill_if_still_running(self) -> None:
        if self.process is not None and self._stopping:
            self.log.appendPlainText("the worker did not stop in time; ending it (the last snapshot is kept)")
            self.process.kill()

    def shutdown(self) -> None:
        """The studio is closing: stop the worker gracefully but do not wait for it."""
        if self.process is not None and self.run_dir is not None:
            runs.request_stop(self.run_dir, "studio closed")
            self.process.waitForFinished(3000)

    def _set_running(self, running: bool) -> None:
        self.start_btn.setEnabled(not running)
        self.resume_btn.setEnabled(not running)
        self.stop_btn.setEnabled(running)

    def _read_stdout(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput())
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            text = line.decode("utf-8", "replace").strip()
            if not text:
                continue
            try:
                event = json.loads(text)
            except ValueError:
                self.log.appendPlainText(text)
                continue
            self.handle_event(event)

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode("utf-8", "replace").rstrip()
        if text:
            self.log.appendPlainText(text)

    def handle_event(self, event: dict) -> None:
        """One JSON line from the worker (DESIGN.md's protocol)."""
        kind = event.get("event")
        if kind == "progress":
            kimg = float(event.get("kimg") or 0)
            total = float(event.get("total_kimg") or self.progress.maximum())
            # the bar counts hundredths of a kimg so short runs move too
            self.progress.setFormat(f"{kimg:.2f} / {total:g} kimg")
            self.progress.setMaximum(max(1, int(total * 100)))
            self.progress.setValue(int(kimg * 100))
            rate = event.get("images_per_s")
            eta = event.get("eta_s")
            self.status.setText(f"{kimg:.2f} of {total:g} kimg" + (f" · {rate:.1f} images/s" if rate else "")
                                + (f" · about {eta / 60:.0f} min left" if eta else "")
                                + (f" · ADA p {event['p']:.3f}" if event.get("p") is not None else ""))
            self._add_stats(event)
        elif kind == "preview":
            self._show_newest_preview(event.get("path"))
        elif kind == "snapshot":
            self.log.appendPlainText(f"snapshot {event.get('path')}")
            self.open_snapshot.setEnabled(True)
            self._show_newest_preview(event.get("preview"))
            self.refresh_runs()
        elif kind == "metric":
            self._add_metric(event)
            line = f"metrics at {float(event.get('kimg', 0)):.1f} kimg"
            if isinstance(event.get("fd_clip"), (int, float)):
                line += f": FD-CLIP {event['fd_clip']:.4f}"
            if isinstance(event.get("kid_clip"), (int, float)):
                line += f", KID-CLIP {event['kid_clip']:.5f}"
            self.log.appendPlainText(line)
        elif kind == "log":
            self.log.appendPlainText(str(event.get("message", "")))
        elif kind == "error":
            message = str(event.get("message", "the trainer failed"))
            self.log.appendPlainText("error: " + message)
            self.session.status.emit(f"Training: {message}", 0)
        elif kind == "done":
            self.log.appendPlainText(f"{event.get('reason', 'done')} at {event.get('kimg', '?')} kimg")
            self.open_snapshot.setEnabled(bool(event.get("snapshot")) or self.open_snapshot.isEnabled())

    def _add_metric(self, metric: dict) -> None:
        if isinstance(metric.get("fd_clip"), (int, float)):
            self.curves.add("metric", "fd_clip", float(metric.get("kimg", 0)), float(metric["fd_clip"]))

    def _add_stats(self, stats: dict) -> None:
        kimg = float(stats.get("kimg", 0))
        for key in ("loss_G", "loss_D", "loss_r1"):
            if isinstance(stats.get(key), (int, float)):
                self.curves.add("loss", key, kimg, float(stats[key]))
        if isinstance(stats.get("p"), (int, float)):
            self.curves.add("p", "p", kimg, float(stats["p"]))

    def _show_newest_preview(self, path: str | None = None) -> None:
        kind = self.preview_kind.currentData()
        if (path is None or kind != "preview") and self.run_dir is not None:
            pattern = {"preview": "preview-*.png", "augment": "augment-*.png", "reals": "reals.png"}[kind]
            previews = sorted(self.run_dir.glob(pattern))
            path = str(previews[-1]) if previews else None
        if path:
            pix = QPixmap(path)
            if not pix.isNull():
                self.preview.setPixmap(pix.scaled(self.preview.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                  Qt.TransformationMode.SmoothTransformation))

    def _poll_run_folder(self) -> None:
        """Between events, keep the preview fresh from the run folder (the worker writes it)."""
        if self.run_dir is not None:
            self._show_newest_preview()

    def _on_finished(self, code: int, status) -> None:
        crashed = status == QProcess.ExitStatus.CrashExit
        self._read_stdout()
        if crashed:
            message = "the training worker stopped unexpectedly; the newest snapshot is kept — Resume continues from it"
        elif code != 0:
            message = f"the training worker ended with an error (exit code {code}); see the log"
        elif self._stopping:
            message = "stopped; the newest snapshot is kept — Resume continues from it"
        else:
            message = "training finished"
        self.status.setText(message)
        self.session.status.emit(f"Training: {message}", 0)
        self.process = None
        self._stopping = False
        self._poll.stop()
        self._set_running(False)
        self.refresh_runs()

    def _on_process_error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.status.setText("the training worker could not start")
            self.process = None
            self._set_running(False)

    def open_in_explore(self) -> None:
        if self.run_dir is None:
            return
        snapshot = runs.read_run(self.run_dir).snapshot
        if snapshot is None:
            self.session.status.emit("No snapshot yet", 3000)
            return
        self.session.open_model(str(snapshot))
        window = self.window()
        if hasattr(window, "show_explore"):
            window.show_explore()
