"""The Export panel: preview, print size arithmetic, and files that carry their settings."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from studio.imaging.codecs import read_image
from studio.imaging.metadata import read_recipe
from tests.ui.conftest import grid_done, wait_for


def test_export_selection_as_tiff_prints(make_window, tiny_model, qtbot, tmp_path):
    window = make_window(tiny_model)
    explore = window.explore
    explore.grid.select_rows([2, 6])
    panel = window.export_panel
    window.tabs.setCurrentWidget(panel)
    panel.source_combo.setCurrentIndex(panel.source_combo.findData("explore"))
    panel.use_selection()
    assert "2 images" in panel.source_label.text()

    panel.levels_check.setChecked(True)
    panel.aspect_combo.setCurrentIndex(panel.aspect_combo.findData(1.27))
    panel.size_mode.setCurrentIndex(panel.size_mode.findData("print"))
    panel.print_w.setValue(10.0)
    panel.print_h.setValue(8.0)
    panel.dpi.setValue(100)
    assert "394 × 315 px" in panel.size_label.text()   # 10 x 8 cm at 100 dpi
    panel.update_preview()
    wait_for(qtbot, lambda: panel.after.pixmap() is not None and not panel.after.pixmap().isNull())
    assert panel.before.pixmap() is not None

    panel.format_combo.setCurrentIndex(panel.format_combo.findData("tiff"))
    panel.bits.setCurrentIndex(panel.bits.findData(16))
    panel.folder_edit.setText(str(tmp_path / "prints"))
    panel.export()
    wait_for(qtbot, lambda: panel.export_btn.isEnabled() and "Wrote" in panel.summary.text())
    files = sorted((tmp_path / "prints").glob("*.tif*"))
    assert [f.name for f in files] == ["tiny-seed0002.tif", "tiny-seed0006.tif"]
    pixels = read_image(files[0])
    assert pixels.shape == (315, 394, 3) and pixels.dtype.name == "uint16"
    recipe = read_recipe(files[0])
    assert recipe.seed == 2 and recipe.export["format"] == "tiff" and recipe.postprocess

    panel.export()   # again, without replacing: new names
    wait_for(qtbot, lambda: panel.export_btn.isEnabled() and len(list((tmp_path / "prints").glob("*"))) == 4)
    assert (tmp_path / "prints" / "tiny-seed0002 (2).tif").exists()


def test_jpeg_after_a_16_bit_png_exports_8_bits(make_window, tiny_model, qtbot, tmp_path):
    window = make_window(tiny_model)
    window.explore.grid.select_row(1)
    panel = window.export_panel
    window.tabs.setCurrentWidget(panel)
    panel.use_selection()
    panel.format_combo.setCurrentIndex(panel.format_combo.findData("png"))
    panel.bits.setCurrentIndex(panel.bits.findData(16))
    panel.format_combo.setCurrentIndex(panel.format_combo.findData("jpeg"))
    assert panel.bits.currentData() == 8 and not panel.bits.isEnabled()     # shown as it will be written
    panel.folder_edit.setText(str(tmp_path))
    panel.export_btn.click()
    wait_for(qtbot, lambda: panel.export_btn.isEnabled() and "Wrote" in panel.summary.text())
    assert [f.suffix for f in tmp_path.iterdir()] == [".jpg"]
    panel.format_combo.setCurrentIndex(panel.format_combo.findData("png"))
    assert panel.bits.currentData() == 16 and panel.bits.isEnabled()        # the artist's choice comes back


def test_the_wheel_scrolls_the_sidebar_without_changing_its_controls(make_window, tiny_model, qtbot):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    window = make_window(tiny_model)
    panel = window.export_panel
    window.tabs.setCurrentWidget(panel)
    combo = panel.format_combo
    before = combo.currentData()
    centre = QPointF(combo.rect().center())
    event = QWheelEvent(centre, QPointF(combo.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, -120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(combo, event)
    assert combo.currentData() == before
    assert panel.export_btn.isVisible() and not panel.export_btn.visibleRegion().isEmpty()


def test_the_orientation_follows_the_print_and_the_ratio_as_written(make_window, tiny_model):
    window = make_window(tiny_model)
    panel = window.export_panel
    panel.aspect_combo.setCurrentIndex(panel.aspect_combo.findData(1.27))
    assert panel.landscape.isChecked()
    panel.size_mode.setCurrentIndex(panel.size_mode.findData("print"))
    panel.print_w.setValue(40.0)
    panel.print_h.setValue(50.0)                       # a 40 x 50 cm print is upright
    assert panel.portrait.isChecked()
    panel.print_w.setValue(60.0)
    assert panel.landscape.isChecked()
    panel.aspect_combo.setCurrentIndex(panel.aspect_combo.findText("4:5", flags=Qt.MatchFlag.MatchStartsWith))
    assert panel.portrait.isChecked()


def test_the_upscaler_choice_asks_for_the_model_and_falls_back_to_lanczos(qtbot, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QFileDialog

    from studio.ui.widgets.upscaler import UpscalerChoice

    choice = UpscalerChoice()
    qtbot.addWidget(choice)
    answers = [("", ""), (str(tmp_path / "x4.onnx"), "")]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: answers.pop(0))
    choice.setCurrentIndex(1)                                   # cancelled: Lanczos again
    assert choice.value() == "lanczos" and choice.currentIndex() == 0
    choice.setCurrentIndex(1)
    assert choice.value() == f"onnx:{tmp_path / 'x4.onnx'}" and "x4.onnx" in choice.currentText()


def test_native_mode_has_the_model_draw_the_print_shape(make_window, tiny_model, qtbot, tmp_path):
    window = make_window(tiny_model)
    explore = window.explore
    explore.grid.select_row(3)
    panel = window.export_panel
    window.tabs.setCurrentWidget(panel)
    panel.source_combo.setCurrentIndex(panel.source_combo.findData("explore"))
    panel.use_selection()
    panel.aspect_combo.setCurrentIndex(panel.aspect_combo.findData(1.27))
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData("native"))
    panel.folder_edit.setText(str(tmp_path / "prints"))
    panel.export()
    wait_for(qtbot, lambda: panel.export_btn.isEnabled() and "Wrote" in panel.summary.text())
    (path,) = (tmp_path / "prints").glob("*.png")
    recipe = read_recipe(path)
    assert recipe.canvas == [5, 4]                              # 1.27:1 drawn by the model as 80 x 64
    width, height = read_image(path).shape[1::-1]
    assert abs(width / height - 1.27) < 0.02


def test_a_tile_is_exported_with_its_repeat(make_window, tiny_model, qtbot, tmp_path):
    window = make_window(tiny_model)
    explore = window.explore
    explore.tile_check.setChecked(True)
    wait_for(qtbot, lambda: grid_done(window) and window.explore.page_state.tile)
    explore.grid.select_row(2)
    panel = window.export_panel
    window.tabs.setCurrentWidget(panel)
    panel.source_combo.setCurrentIndex(panel.source_combo.findData("explore"))
    panel.use_selection()
    assert panel.repeat.isVisibleTo(panel) and panel.repeat.currentData() == 3
    panel.folder_edit.setText(str(tmp_path / "prints"))
    panel.export()
    wait_for(qtbot, lambda: panel.export_btn.isEnabled() and "Wrote" in panel.summary.text())
    assert "1 repeat of tiles" in panel.summary.text()
    (repeat,) = (tmp_path / "prints").glob("*-repeat3x3.png")
    (tile,) = [p for p in (tmp_path / "prints").glob("*.png") if p != repeat]
    assert np.array_equal(read_image(repeat), np.tile(read_image(tile), (3, 3, 1)))
