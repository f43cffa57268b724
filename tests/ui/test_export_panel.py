"""The Export panel: preview, print size arithmetic, and files that carry their settings."""

from __future__ import annotations

from studio.imaging.codecs import read_image
from studio.imaging.metadata import read_recipe
from tests.ui.conftest import wait_for


def test_export_selection_as_tiff_prints(make_window, tiny_model, qtbot, tmp_path):
    window = make_window(tiny_model)
    explore = window.explore
    explore.grid.select_row(2)
    explore.grid.selectionModel().select(explore.grid.grid_model.index(6),
                                         explore.grid.selectionModel().SelectionFlag.Select)
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
