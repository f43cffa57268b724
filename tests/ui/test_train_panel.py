"""The Train tab speaks to its worker only through the process and the run folder."""

from __future__ import annotations

import json
import sys
import textwrap

from tests.ui.conftest import wait_for

FAKE_WORKER = textwrap.dedent('''
    import json, sys, time, pathlib, shutil
    args = sys.argv[1:]
    run = pathlib.Path(args[args.index("--run-dir") + 1])
    snapshot = pathlib.Path(args[args.index("--snapshot-source") + 1])
    crash = "--crash" in args
    def say(**event):
        print(json.dumps(event), flush=True)
    say(event="log", message="fake trainer ready")
    for k in range(1, 4):
        say(event="progress", kimg=k, total_kimg=3, images_per_s=12.5, loss_G=1.0 / k, loss_D=0.5 * k, p=0.01 * k)
        if crash and k == 2:
            sys.exit(3)
    target = run / "network-snapshot-000003.safetensors"
    shutil.copy(snapshot, target)
    from PIL import Image
    Image.new("RGB", (64, 64), (200, 40, 40)).save(run / "preview-000003.png")
    say(event="snapshot", path=str(target), preview=str(run / "preview-000003.png"), kimg=3)
    say(event="metric", kimg=3, fd_clip=12.5)
    say(event="done", kimg=3)
''')


def _fake(panel, tmp_path, snapshot, crash=False, monkeypatch=None):
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_WORKER)

    def launch(options):
        from PySide6.QtCore import QProcess

        panel.process = QProcess(panel)
        panel.process.setProgram(sys.executable)
        panel.process.setArguments([str(script), "--run-dir", str(panel.run_dir), "--snapshot-source", str(snapshot)]
                                   + (["--crash"] if crash else []))
        panel.process.readyReadStandardOutput.connect(panel._read_stdout)
        panel.process.readyReadStandardError.connect(panel._read_stderr)
        panel.process.finished.connect(panel._on_finished)
        panel._buffer, panel._stopping = b"", False
        panel.progress.setMaximum(3)
        panel.process.start()
        panel._set_running(True)

    monkeypatch.setattr(panel, "_launch", launch)


def test_run_progress_snapshot_and_open_in_explore(make_window, tiny_model, tmp_path, qtbot, monkeypatch):
    from studio.gan.formats import load_network
    from studio.gan.formats.native import save_native

    snapshot = tmp_path / "snap.safetensors"
    save_native(snapshot, load_network(tiny_model).G)
    data = tmp_path / "data"
    data.mkdir()
    (data / "studio-dataset.json").write_text(json.dumps({"version": 1, "resolution": 64, "count": 40}))
    window = make_window()
    panel = window.train
    panel.data_edit.setText(str(data))
    panel._describe_data()
    assert "40 images at 64 px" in panel.data_info.text()
    _fake(panel, tmp_path, snapshot, monkeypatch=monkeypatch)
    panel.start()
    wait_for(qtbot, lambda: panel.process is None and "finished" in panel.status.text())
    assert panel.progress.value() == 300 and "3.00 / 3 kimg" in panel.progress.format()
    assert panel.curves.series["p"][1] == [0.01, 0.02, 0.03]
    assert panel.curves.series["fd_clip"][1] == [12.5]
    assert "metrics at 3.0 kimg: FD-CLIP 12.5000" in panel.log.toPlainText()          # words, not raw JSON
    assert panel.open_snapshot.isEnabled() and panel.preview.pixmap() is not None
    panel.open_in_explore()
    wait_for(qtbot, lambda: window.session.model is not None)
    assert window.session.model["name"] == "network-snapshot-000003"


def test_a_crashing_worker_is_reported(make_window, tiny_model, tmp_path, qtbot, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    window = make_window()
    panel = window.train
    panel.data_edit.setText(str(data))
    _fake(panel, tmp_path, tmp_path / "missing", crash=True, monkeypatch=monkeypatch)
    panel.start()
    wait_for(qtbot, lambda: panel.process is None)
    assert "error" in panel.status.text() and panel.start_btn.isEnabled()
    assert "Training:" in window.statusBar().currentMessage()


def test_a_real_training_run_from_the_tab(make_window, tmp_path, qtbot):
    """The real worker process on a tiny procedural dataset: progress, a snapshot, Explore."""
    from studio.data.procedural import write_dataset

    data = write_dataset(tmp_path / "abstract", 24, 32)
    window = make_window()
    panel = window.train
    panel.data_edit.setText(str(data))
    panel._describe_data()
    panel.preset.setCurrentIndex(panel.preset.findData("small"))
    panel.kimg.setValue(0.05)
    panel.batch.setValue(4)
    panel.blur.setValue(2.0)
    panel.extra_options = {"tick_kimg": 0.02, "workers": 0, "grid": 4}
    panel.start()
    wait_for(qtbot, lambda: panel.process is None, timeout=180000)
    assert "finished" in panel.status.text(), panel.log.toPlainText()[-2000:]
    assert list(panel.run_dir.glob("network-snapshot-*.safetensors"))
    saved = json.loads((panel.run_dir / "training_options.json").read_text())
    assert saved["blur_sigma"] == 2.0                   # the discriminator blur reached the worker
    from studio.app import runs

    first_points = [row["kimg"] for row in runs.read_stats(panel.run_dir) if "p" in row]
    assert first_points

    panel.refresh_runs()
    panel.runs.setCurrentRow(0)
    panel.kimg.setValue(0.09)
    panel.resume()                                      # continues the run: its curves keep their history
    assert panel.curves.series["p"][0][:len(first_points)] == first_points
    wait_for(qtbot, lambda: panel.process is None, timeout=180000)
    assert "finished" in panel.status.text(), panel.log.toPlainText()[-2000:]
    assert max(panel.curves.series["p"][0]) > max(first_points)
    panel.open_in_explore()
    wait_for(qtbot, lambda: window.session.model is not None, timeout=60000)
    assert window.session.model["resolution"] == 32


def test_prepare_dialog_previews_and_prepares(make_window, tmp_path, qtbot):
    from PIL import Image as PILImage

    from studio.ui.prepare_dialog import PrepareDialog

    src = tmp_path / "paintings"
    src.mkdir()
    for i, size in enumerate([(120, 90), (90, 120), (200, 100), (100, 100), (160, 120)]):
        PILImage.new("RGB", size, (40 * i, 100, 200 - 30 * i)).save(src / f"p{i}.jpg")
    (src / "notes.txt").write_text("not a picture")
    window = make_window()
    dialog = PrepareDialog(window.session, window)
    qtbot.addWidget(dialog)
    dialog.src.setText(str(src))
    dialog.dest.setText(str(tmp_path / "dataset"))
    dialog.res.setCurrentIndex(dialog.res.findData(64))
    dialog.crop.setCurrentIndex(dialog.crop.findData("rect"))
    dialog.preview()
    wait_for(qtbot, lambda: dialog.after[0].pixmap() is not None and not dialog.after[0].pixmap().isNull())
    assert not dialog.before[0].pixmap().isNull()
    dialog.prepare()
    wait_for(qtbot, lambda: dialog.prepared is not None, timeout=60000)
    assert (tmp_path / "dataset" / "studio-dataset.json").exists()
    assert "prepared 5 images" in dialog.report.toPlainText() and "notes.txt" in dialog.report.toPlainText()


def test_fine_tuning_a_conditional_model_asks_which_class_unlabelled_images_train(make_window, tmp_path, qtbot):
    import torch

    from studio.data.procedural import write_dataset
    from studio.gan.formats.native import save_native
    from studio.gan.networks import GeneratorConfig, make_generator

    G = make_generator(GeneratorConfig(z_dim=16, w_dim=16, c_dim=2, img_resolution=32, mapping_layers=1,
                                       channel_base=64, channel_max=16))
    torch.manual_seed(0)
    save_native(tmp_path / "families.safetensors", G, provenance={"class_names": ["geometric", "grid"]})
    window = make_window(tmp_path / "families.safetensors")
    panel = window.train
    assert not panel.as_class.isVisibleTo(panel)                  # from scratch: no question
    panel.start_from.setCurrentIndex(panel.start_from.findData("model"))
    assert panel.as_class.isVisibleTo(panel)
    assert [panel.as_class.itemText(i) for i in range(panel.as_class.count())] == ["0: geometric", "1: grid"]
    panel.as_class.setCurrentIndex(1)
    options = panel.options()
    assert options["as_class"] == 1 and options["resume"].endswith("families.safetensors")
    data = write_dataset(tmp_path / "labelled", 8, 32)            # labels, used: the images keep their own
    panel.data_edit.setText(str(data))
    panel._describe_data()
    panel.cond.setChecked(True)
    assert not panel.as_class.isVisibleTo(panel) and "as_class" not in panel.options()
    assert panel.options()["clip_d"] == 0.0
    panel.clip_d.setChecked(True)                                  # the CLIP discriminator, at the
    assert panel.options()["clip_d"] == 0.5                        # default model's weight
    assert panel.options()["mode_seeking"] == 0.0
    panel.mode_seeking.setChecked(True)                            # MSGAN's term at its paper's weight
    assert panel.options()["mode_seeking"] == 1.0


def test_the_snapshot_interval_says_its_kimg(make_window):
    panel = make_window().train
    assert panel.snap.suffix() == " ticks (40 kimg)"
    panel.snap.setValue(5)
    assert panel.snap.suffix() == " ticks (20 kimg)"


def test_fine_tuning_the_open_stylegan3_model_from_the_tab(make_window, sg3_model, tmp_path, qtbot):
    """The real worker fine-tunes the open StyleGAN3 pickle (the file picks the StyleGAN3 recipe)."""
    from studio.data.procedural import write_dataset
    from studio.gan.formats import load_network

    data = write_dataset(tmp_path / "abstract", 8, 64)
    window = make_window(sg3_model)
    panel = window.train
    panel.start_from.setCurrentIndex(panel.start_from.findData("model"))
    panel.data_edit.setText(str(data))
    panel._describe_data()
    panel.kimg.setValue(0.05)
    panel.batch.setValue(4)
    panel.extra_options = {"tick_kimg": 0.004, "snap": 2, "workers": 0, "grid": 4, "kimg": 0.008, "metrics": False}
    panel.start()
    wait_for(qtbot, lambda: panel.process is None, timeout=180000)
    assert "finished" in panel.status.text(), panel.log.toPlainText()[-2000:]
    assert "StyleGAN3 64x64 px" in panel.log.toPlainText()
    snapshot = sorted(panel.run_dir.glob("network-snapshot-*.safetensors"))[-1]
    net = load_network(snapshot)
    assert net.kind == "stylegan3" and net.D is not None
    saved = json.loads((panel.run_dir / "training_options.json").read_text())
    assert saved["style_mix"] == 0.0 and saved["blur_sigma"] == 10.0
