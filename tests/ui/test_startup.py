"""Start-up checks and the crash dialog."""

from __future__ import annotations

import sys

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QPushButton

from studio.ui.crash import CrashDialog, crash_report
from studio.ui.startup import check_platform, install_hint


def test_no_display_points_to_xvfb_and_the_cli(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    message = check_platform({"PATH": "/usr/bin"})
    assert "xvfb-run -a studio" in message and "studio --help" in message


def test_offscreen_and_wayland_need_no_xcb_check(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    assert check_platform({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert check_platform({"WAYLAND_DISPLAY": "wayland-0"}) is None


def test_missing_xcb_libraries_are_named_with_their_packages(monkeypatch):
    import studio.ui.startup as startup

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(startup, "missing_libraries", lambda plugin: ["libxcb-cursor.so.0", "libxcb-icccm.so.4"])
    message = check_platform({"DISPLAY": ":0"})
    assert "libxcb-cursor.so.0" in message
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4" in message
    assert "dnf install" in install_hint(["libxcb-cursor.so.0"])


def test_crash_dialog_has_a_copyable_report(qtbot):
    try:
        raise RuntimeError("the brush fell off the easel")
    except RuntimeError:
        report = crash_report(*sys.exc_info())
    assert "the brush fell off the easel" in report and "GAN Art Studio" in report and "Traceback" in report
    dialog = CrashDialog(report)
    qtbot.addWidget(dialog)
    copy = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Copy report")
    copy.click()
    assert QGuiApplication.clipboard().text() == report


def test_the_studio_opens_the_last_model_or_else_the_default(tmp_path, monkeypatch):
    from studio.core import paths
    from studio.ui.app import startup_model

    bundled = tmp_path / "default-abstract.safetensors"
    monkeypatch.setattr(paths, "default_network_path", lambda: bundled)
    last = tmp_path / "mine.pkl"
    last.write_bytes(b"x")
    assert startup_model(None) is None                  # nothing bundled: the empty state
    bundled.write_bytes(b"x")
    assert startup_model(None) == "default"
    assert startup_model(str(last)) == str(last)
    assert startup_model(str(tmp_path / "moved-away.pkl")) == "default"
    assert startup_model("https://example.com/net.pkl") == "default"   # no surprise download at start-up


def test_the_rendering_backend_is_chosen_in_the_window_and_remembered(make_window, tiny_model, qtbot):
    from studio.core.settings import load_settings
    from tests.ui.conftest import grid_done, wait_for

    window = make_window(tiny_model)
    window.backend_actions["onnx"].trigger()
    wait_for(qtbot, lambda: window.session.model.get("backend", "").startswith("ONNX Runtime") and grid_done(window))
    assert load_settings().backend == "onnx"
    assert "ONNX Runtime" in window.model_label.toolTip()
    window.backend_actions["torch"].trigger()
    wait_for(qtbot, lambda: window.session.model["backend"].startswith("PyTorch") and grid_done(window))


def test_about_names_the_version_device_and_where_the_users_things_live(make_window, tiny_model, qtbot):
    from studio import __version__
    from studio.core import paths
    from tests.ui.conftest import wait_for

    window = make_window(tiny_model)
    wait_for(qtbot, lambda: getattr(window, "_engine", None) is not None)
    text = window.about_text()
    assert __version__ in text and "CPU" in text and str(paths.data_dir()) in text and "PyTorch" in text
    assert not window.windowIcon().isNull() or paths.icon_path().is_file()
