"""Curation: star from Explore, survive a restart, filter, edit, re-open; drop a PNG with a recipe."""

from __future__ import annotations

import numpy as np

from studio.cli import main
from tests.ui.conftest import grid_done, wait_for
from tests.ui.test_explore import pixels


def test_star_survives_restarting_the_app(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)
    explore = window.explore
    explore.psi.set_value(0.7)
    wait_for(qtbot, lambda: grid_done(window))
    explore.grid.select_row(4)
    explore.star_selection()
    assert explore.grid.grid_model.items[4].badge == "★"
    window.close()

    again = make_window(tiny_model)
    panel = again.library_panel
    again.tabs.setCurrentWidget(panel)
    wait_for(qtbot, lambda: panel.grid.grid_model.rowCount() == 1)
    image = panel._images[panel.grid.grid_model.items[0].tag]
    assert image.recipe.seed == 4 and image.recipe.truncation_psi == 0.7 and image.model_name == "tiny"
    assert "seed 4" in panel.grid.grid_model.items[0].label


def test_edit_filter_reopen_and_delete(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)
    explore = window.explore
    for row in (2, 9):
        explore.grid.select_row(row)
        explore.star_selection()
    panel = window.library_panel
    window.tabs.setCurrentWidget(panel)
    wait_for(qtbot, lambda: panel.grid.grid_model.rowCount() == 2)
    row_of_9 = next(i for i, item in enumerate(panel.grid.grid_model.items) if panel._images[item.tag].recipe.seed == 9)
    panel.grid.select_row(row_of_9)
    panel.tags_edit.setText("blue, print")
    panel.note_edit.setPlainText("hang in the hall")
    panel.save_details()
    panel.stars_spin.setValue(4)
    panel.tag_combo.setCurrentIndex(panel.tag_combo.findData("print"))
    assert panel.grid.grid_model.rowCount() == 1
    panel.stars_combo.setCurrentIndex(panel.stars_combo.findData(4))
    assert panel.grid.grid_model.rowCount() == 1
    panel.grid.select_row(0)
    panel.open_selected()
    assert window.tabs.currentWidget() is window.stack and explore._viewer is not None
    assert "seed 9" in explore._viewer.caption.text()
    explore._viewer.close()
    window.tabs.setCurrentWidget(panel)
    panel.tag_combo.setCurrentIndex(0)
    panel.stars_combo.setCurrentIndex(0)
    panel.grid.select_row(0)
    panel.delete_selected(confirm=False)
    assert panel.grid.grid_model.rowCount() == 1
    # a pasted essay as a search: the status bar says why nothing shows, then it recovers
    panel.search.setText(" ".join(f"word{k}" for k in range(500)))
    assert panel.grid.grid_model.rowCount() == 0
    assert "at most 64 different words" in window.statusBar().currentMessage()
    panel.search.clear()
    assert panel.grid.grid_model.rowCount() == 1


def test_dropping_a_png_restores_the_exact_image(make_window, tiny_model, tmp_path, qtbot):
    out = tmp_path / "out"
    assert main(["generate", "--network", str(tiny_model), "--seeds", "123", "--trunc", "0.5",
                 "--outdir", str(out)]) == 0
    window = make_window(tiny_model)
    window.open_path(str(out / "seed0123.png"))
    explore = window.explore
    assert explore.psi.value() == 0.5 and 123 in explore.page_seeds()
    wait_for(qtbot, lambda: grid_done(window))
    viewer = explore._viewer
    assert viewer is not None and "seed 123" in viewer.caption.text()
    row = explore.grid.grid_model.row_of(123)
    from PIL import Image

    expected = np.asarray(Image.open(out / "seed0123.png"))
    got = pixels(explore.grid.grid_model.items[row].image)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_png_for_a_missing_model_says_which(make_window, tiny_model, tmp_path, qtbot):
    out = tmp_path / "out"
    main(["generate", "--network", str(tiny_model), "--seeds", "5", "--outdir", str(out)])
    moved = tmp_path / "elsewhere.pt"
    window = make_window()
    tiny_model.rename(moved)
    try:
        window.open_path(str(out / "seed0005.png"))
        wait_for(qtbot, lambda: "needs the model 'tiny'" in window.statusBar().currentMessage())
        assert "cannot find" in window.statusBar().currentMessage()
    finally:
        moved.rename(tiny_model)


def test_interpolate_between_favourites_keeps_their_truncation(make_window, tiny_model, qtbot):
    window = make_window(tiny_model)
    explore = window.explore
    explore.psi.set_value(0.5)
    wait_for(qtbot, lambda: grid_done(window))
    explore.grid.select_row(3)
    explore.star_selection()
    starred_3 = pixels(explore.grid.grid_model.items[3].image)
    explore.psi.set_value(1.5)
    wait_for(qtbot, lambda: grid_done(window))
    explore.grid.select_row(8)
    explore.star_selection()
    panel = window.library_panel
    window.tabs.setCurrentWidget(panel)
    wait_for(qtbot, lambda: panel.grid.grid_model.rowCount() == 2)
    panel.grid.selectAll()
    explore.frames_spin.setValue(5)
    panel.interpolate_selected()
    assert window.tabs.currentWidget() is window.stack
    strip = explore.strip.grid_model
    wait_for(qtbot, lambda: len(strip.items) == 5 and all(i.image is not None for i in strip.items))
    ends = [pixels(strip.items[0].image), pixels(strip.items[-1].image)]
    # the favourite at its own psi 0.5, not re-rendered at the panel's 1.5
    assert min(np.abs(end.astype(int) - starred_3.astype(int)).max() for end in ends) <= 1


def test_file_open_image_restores_a_print_and_open_model_accepts_it_too(make_window, tiny_model, tmp_path, qtbot,
                                                                        monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    out = tmp_path / "out"
    assert main(["generate", "--network", str(tiny_model), "--seeds", "31", "--trunc", "0.7",
                 "--outdir", str(out)]) == 0
    assert main(["export", str(out / "seed0031.png"), "--format", "tiff", "--out", str(tmp_path / "print.tif"),
                 "--network", str(tiny_model)]) == 0
    window = make_window()
    chosen = [str(tmp_path / "print.tif"), str(tiny_model)]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (chosen.pop(0), ""))
    window.open_image_action.trigger()                    # File > Open image… on a print from elsewhere:
    wait_for(qtbot, lambda: getattr(window, "_model_question", None) is not None
             and window._model_question.isVisible())      # its model's path is not opened on its own
    assert window.session.model is None and "tiny" in window._model_question.text()
    window._model_question.button(QMessageBox.StandardButton.Open).click()   # the artist chooses the file
    wait_for(qtbot, lambda: window.session.model is not None and 31 in window.explore.page_seeds())
    assert window.explore.page_state.truncation_psi == 0.7
    window.explore.psi.set_value(1.0)
    chosen.append(str(out / "seed0031.png"))
    window.choose_model()                                 # Open model… on an image restores it as well
    wait_for(qtbot, lambda: window.explore.page_state.truncation_psi == 0.7)
