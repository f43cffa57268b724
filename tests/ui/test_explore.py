"""The Explore panel driven like an artist would, offscreen."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from studio.ui.widgets.image_grid import ImageGrid
from tests.ui.conftest import grid_done, wait_for


def pixels(image):
    image = image.convertToFormat(image.Format.Format_RGB888)
    ptr = image.constBits()
    rows = np.frombuffer(ptr, np.uint8, image.sizeInBytes()).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def test_open_model_shows_a_grid_of_consecutive_seeds(make_window, tiny_model):
    window = make_window(tiny_model)
    explore = window.explore
    assert window.stack.currentWidget() is window.explore
    assert "tiny" in window.model_label.text() and "64×64" in window.model_label.text()
    assert [item.tag for item in explore.grid.grid_model.items] == list(range(21))
    explore.next_page()
    assert explore.page_seeds()[0] == 21
    explore.rows_spin.setValue(2)
    explore.cols_spin.setValue(4)
    explore.go_to_seed(1000)
    assert 1000 in explore.page_seeds() and len(explore.page_seeds()) == 8
    assert explore.selected_seeds() == [1000]


def test_moving_psi_rerenders_and_coalesces(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)
    explore, worker = window.explore, window.session.client.worker
    before = pixels(explore.grid.grid_model.items[3].image)
    submitted_before = worker.completed
    for value in np.linspace(1.0, 0.3, 40):
        explore.psi.set_value(float(value))
        qtbot.wait(1)
    wait_for(qtbot, lambda: grid_done(window) and explore.psi.value() == 0.3)
    window.session.client.wait_idle()
    after = pixels(explore.grid.grid_model.items[3].image)
    assert np.abs(after.astype(int) - before.astype(int)).mean() > 1
    renders = worker.completed - submitted_before
    assert renders < 40, f"{renders} grid renders for 40 slider moves: they should coalesce"


def test_selection_and_large_view_navigation(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)
    grid: ImageGrid = window.explore.grid
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=grid.visualRect(grid.grid_model.index(2)).center())
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     pos=grid.visualRect(grid.grid_model.index(5)).center())
    assert window.explore.selected_seeds() == [2, 5]
    grid.setCurrentIndex(grid.grid_model.index(5))
    qtbot.keyClick(grid, Qt.Key.Key_Return)
    viewer = window.explore._viewer
    assert viewer is not None and viewer.row == 5 and "seed 5" in viewer.caption.text()
    qtbot.keyClick(viewer, Qt.Key.Key_Right)
    assert viewer.row == 6 and window.explore.selected_seeds() == [6]
    qtbot.keyClick(viewer, Qt.Key.Key_Down)   # one row down in a 7-column grid
    assert viewer.row == 13
    viewer.close()


def test_conditional_controls_hidden_for_unconditional_model(make_window, tiny_model):
    window = make_window(tiny_model)
    assert window.explore.class_combo.isHidden()
    assert window.explore.cutoff_spin.maximum() == 10


def test_bad_model_file_is_reported_not_crashed(make_window, tmp_path, qtbot):
    bad = tmp_path / "broken.pkl"
    bad.write_bytes(b"\x80\x04garbage")
    window = make_window()
    window.session.open_model(str(bad))
    wait_for(qtbot, lambda: "Could not open" in window.statusBar().currentMessage())
    assert "broken.pkl" in window.statusBar().currentMessage()
    assert window.warnings and window.stack.currentWidget() is window.empty


def test_job_errors_surface_in_the_status_bar(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)

    def failing_job(ctx):
        raise ValueError("the seed list is empty")

    window.session.client.submit("explore.grid", failing_job)
    wait_for(qtbot, lambda: "the seed list is empty" in window.statusBar().currentMessage())


def _select(explore, *rows: int) -> None:
    """Click the first row, ctrl-click the others."""
    explore.grid.select_rows(rows)


def test_interpolation_strip_between_selected_seeds(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)
    explore = window.explore
    _select(explore, 1, 4)
    explore.frames_spin.setValue(6)
    explore.make_strip()
    strip = explore.strip.grid_model
    wait_for(qtbot, lambda: len(strip.items) == 6 and all(i.image is not None for i in strip.items))
    first = pixels(strip.items[0].image)
    assert np.array_equal(first, pixels(explore.grid.grid_model.items[1].image))


def test_the_strip_plays_large_and_exports_at_the_size_asked(make_window, tiny_model, qtbot, tmp_path, monkeypatch):
    from PIL import Image
    from PySide6.QtWidgets import QFileDialog

    window = make_window(tiny_model)
    explore = window.explore
    _select(explore, 0, 2)
    explore.frames_spin.setValue(4)
    explore.easing_combo.setCurrentIndex(explore.easing_combo.findData("ease"))
    explore.make_strip()
    wait_for(qtbot, lambda: all(i.image is not None for i in explore.strip.grid_model.items))
    assert explore.strip_status.text() == "4 frames = 0.3 s"          # 12 fps
    explore.play_btn.setChecked(True)
    assert explore._viewer is not None and explore._viewer.is_strip    # playback is large
    explore._viewer.close()
    assert not explore.play_btn.isChecked()
    explore.video_size.setCurrentIndex(explore.video_size.findData(1080))
    out = tmp_path / "frames"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "Folder of PNG frames (*)"))
    explore.export_strip()
    wait_for(qtbot, lambda: explore.strip_status.text().startswith("saved"), timeout=60000)
    assert sorted(p.name for p in out.iterdir()) == [f"frame{i:04d}.png" for i in range(4)]
    assert Image.open(out / "frame0001.png").size == (1080, 1080)


def test_open_model_from_a_url(make_window, tiny_model, qtbot):
    """`studio URL` / Get models: the network downloads into the cache and opens."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tiny_model.parent))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        window = make_window()
        url = f"http://127.0.0.1:{server.server_address[1]}/{tiny_model.name}"
        window.open_path(url)
        wait_for(qtbot, lambda: window.session.model is not None and grid_done(window))
        assert window.session.model["name"].startswith("tiny")
        assert url in window.session.settings.recent_models
    finally:
        server.shutdown()


def test_get_models_dialog_lists_the_catalogue(qtbot):
    from studio.ui.get_models import GetModelsDialog

    dialog = GetModelsDialog()
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == len(dialog.entries) >= 5
    dialog.table.selectRow(1)
    dialog.accept()
    assert dialog.chosen_url == dialog.entries[1].url


def test_reshaping_keeps_the_images_of_seeds_still_on_the_page(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)
    explore = window.explore
    explore.go_to_seed(210)
    wait_for(qtbot, lambda: grid_done(window) and explore.page_seeds()[0] == 210)
    explore.cols_spin.setValue(8)                       # 3 x 8: seeds 192-215 now
    assert explore.page_seeds() == list(range(192, 216))
    kept = [item.tag for item in explore.grid.grid_model.items if item.image is not None]
    assert kept == list(range(210, 216))
    wait_for(qtbot, lambda: grid_done(window))


def test_a_restore_overtaken_by_another_model_does_not_apply_its_recipe(make_window, tiny_model, tmp_path, qtbot):
    from studio.cli import main

    out = tmp_path / "out"
    assert main(["generate", "--network", str(tiny_model), "--seeds", "77", "--trunc", "0.5",
                 "--outdir", str(out)]) == 0
    window = make_window("default")
    window.open_path(str(out / "seed0077.png"))          # looks for tiny.pt on the worker ...
    window.session.open_model("default")               # ... and the artist opens another model meanwhile
    wait_for(qtbot, lambda: window.session.client.wait_idle(0.05) and grid_done(window))
    assert window.session.model["name"] == "default-abstract"
    assert window.explore.page_state.truncation_psi == 1.0 and 77 not in window.explore.page_seeds()


def test_the_grid_lays_out_exactly_rows_by_columns(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)
    explore = window.explore
    explore.rows_spin.setValue(8)
    explore.cols_spin.setValue(8)
    wait_for(qtbot, lambda: grid_done(window) and len(explore.grid.grid_model.items) == 64)
    grid = explore.grid
    tops = [grid.visualRect(grid.grid_model.index(i)).top() for i in range(64)]
    lefts = [grid.visualRect(grid.grid_model.index(i)).left() for i in range(64)]
    assert len(set(tops)) == 8 and all(tops[i] == tops[i - i % 8] for i in range(64))   # 8 rows of 8
    assert len(set(lefts)) == 8


def test_find_searches_the_family_the_prompt_names_and_old_errors_stay_behind(make_window, tiny_conditional_model):
    window = make_window(tiny_conditional_model)
    explore = window.explore
    window.session.model["class_names"] = ["circles", "squares", "stripes"]
    explore._class_from_prompt("blue squares on white")
    assert explore.page_state.class_index == 1 and explore.class_combo.currentData() == 1
    window.show_status("the seed list is empty")
    window.tabs.setCurrentWidget(window.mix)
    assert window.statusBar().currentMessage() == ""


def test_tiles_never_shrink_below_the_pictures_own_size_while_a_row_has_room(qtbot):
    grid = ImageGrid(rows=8, cols=8)
    qtbot.addWidget(grid)
    grid.resize(1200, 700)
    grid.show()
    assert grid.cell_size().height() < 128                 # 8 rows squeezed into 700 px
    grid.native_size = 128
    assert grid.cell_size().height() == 128                # the page scrolls instead
    grid.native_size = 200                                  # wider than a column: fit as before
    assert grid.cell_size().height() < 128
    grid.close()


def test_every_class_a_row_each_renders_stars_and_selects_in_its_rows_class(make_window, tiny_conditional_model, qtbot):
    from studio.gan.formats import load_network
    from studio.gan.render import Renderer
    from studio.gan.render_settings import RenderSettings
    from tests.ui.conftest import grid_done

    window = make_window(tiny_conditional_model)
    explore = window.explore
    explore.class_combo.setCurrentIndex(explore.class_combo.findData("all"))
    model = explore.grid.grid_model
    wait_for(qtbot, lambda: grid_done(window) and isinstance(model.items[0].tag, tuple))
    c_dim = window.session.model["c_dim"]
    assert len(model.items) == c_dim * explore.page_state.cols
    assert [item.tag for item in model.items[:2]] == [(0, 0), (0, 1)] and model.items[-1].tag[0] == c_dim - 1
    row = model.row_of((2, 3))
    expected = dict(Renderer(load_network(tiny_conditional_model), device="cpu")
                    .render_seeds([3], RenderSettings(class_index=2)))[3]
    assert np.abs(pixels(model.items[row].image).astype(int) - expected.astype(int)).max() <= 1
    explore.grid.select_row(row)
    explore.star_selection()
    assert window.session.library.query()[0].recipe.class_index == 2
    assert window.session.selections["explore"][0].class_index == 2
    explore.class_combo.setCurrentIndex(explore.class_combo.findData(1))
    wait_for(qtbot, lambda: grid_done(window) and isinstance(model.items[0].tag, int))
    assert explore.page_state.class_index == 1 and not explore.page_state.all_classes
