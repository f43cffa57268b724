"""The window meets bad input: hostile files dropped on it, a download that crawls. Each gets a
message, the inference worker carries on, and nothing the artist did not confirm reaches the settings."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from studio.core.paths import models_cache_dir
from studio.core.settings import settings_path
from tests.hub.test_download import NETWORK, FakeServer, Route, server  # noqa: F401 - the server fixture
from tests.ui.conftest import grid_done, wait_for


def drop(window, path: Path) -> None:
    """Drop ``path`` on the window as a file manager would."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def _hostile_files(folder: Path, tiny_model: Path) -> dict[str, Path]:
    """Files a stranger could send: each must be refused with a message, none may hurt the window."""
    import dataclasses

    from PIL import Image, PngImagePlugin

    from studio.cli import main
    from studio.imaging.metadata import read_recipe, save_png

    folder.mkdir()
    files = {}
    deep = folder / "deep-key.pkl"                       # killed the process (SIGSEGV) when hashed
    deep.write_bytes(b"\x80\x02}" + b")" + b"\x85" * 150_000 + b"Ns.")
    files["a pickle with a key nested 150,000 deep"] = deep
    fifo = folder / "pipe.pkl"                            # blocked the model worker for good
    os.mkfifo(fifo)
    files["a FIFO named like a network"] = fifo
    page = folder / "network.pt"
    page.write_bytes(b"<!DOCTYPE html><html><body>Sign in to download</body></html>")
    files["a web page saved as a network"] = page
    # an image whose recipe names the deep pickle as its model: a path inside a file is never opened
    assert main(["generate", "--network", str(tiny_model), "--seeds", "9", "--outdir", str(folder)]) == 0
    made = folder / "seed0009.png"
    recipe = read_recipe(made)
    lure = dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, fingerprint="f" * 64, path=str(deep)))
    lured = folder / "lure.png"
    save_png(lured, Image.open(made), lure)
    files["an image whose recipe names a hostile model"] = lured
    nested = folder / "nested.png"                        # a RecursionError traceback once
    info = PngImagePlugin.PngInfo()
    info.add_itxt("studio.recipe", "[" * 100_000 + "]" * 100_000)
    Image.new("RGB", (8, 8)).save(nested, pnginfo=info)
    files["an image whose recipe nests 100,000 deep"] = nested
    return files


def _message(window) -> str | None:
    """What the window told the artist: a warning dialog, a question, or a finished status line."""
    if window.warnings:
        return str(window.warnings[-1])
    question = window._model_question
    if question is not None and question.isVisible():
        return question.text()
    status = window.statusBar().currentMessage()
    return status if status and "…" not in status else None


def test_dropped_hostile_files_get_messages_and_change_nothing(make_window, tiny_model, tmp_path, qtbot):
    window = make_window(tiny_model)
    settings_before = settings_path().read_bytes()
    files = _hostile_files(tmp_path / "hostile", tiny_model)
    for what, path in files.items():
        window.warnings.clear()
        window.statusBar().clearMessage()
        window._model_question = None
        drop(window, path)
        wait_for(qtbot, lambda: _message(window) is not None, timeout=20000)
        message = _message(window)
        assert "Traceback" not in message and "Error" not in message.split(":")[0], (what, message)
        if window._model_question is not None:         # "which model made this image?": the artist says no
            assert "needs the model" in message and "has not opened before" in message
            window._model_question.reject()
        assert window.session.client.worker.isRunning(), what
        assert window.session.model["name"] == "tiny", what            # the open model stays open
    assert settings_path().read_bytes() == settings_before           # no last model, no recents from a drop
    # the worker still answers: a new page of the grid renders
    qtbot.mouseClick(window.explore.next_btn, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: grid_done(window))


def test_a_download_shows_its_size_and_cancel_stops_it(make_window, server, tmp_path, qtbot):
    server.routes["/slow.pt"] = Route(NETWORK, trickle=0.02)
    url = server.url("/slow.pt")
    window = make_window()
    settings_before = settings_path().read_bytes() if settings_path().exists() else None
    window.session.open_model(url)
    wait_for(qtbot, lambda: window.cancel_download.isVisible() and "MiB" in window.progress.format(),
             timeout=20000)
    qtbot.mouseClick(window.cancel_download, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: "Download cancelled" in window.statusBar().currentMessage(), timeout=5000)
    assert not window.cancel_download.isVisible()
    assert window.session.client.wait_idle(10)        # the worker left the download at its next read
    parts = list(models_cache_dir().glob("*.part"))
    assert len(parts) == 1 and 0 < parts[0].stat().st_size < len(NETWORK)     # kept, to go on from
    assert window.session.client.worker.isRunning() and not window.warnings
    now = settings_path().read_bytes() if settings_path().exists() else None
    assert now == settings_before
