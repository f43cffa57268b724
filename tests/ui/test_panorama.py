"""The Panorama dialog: seeds dragged from the Explore grid onto regions, painted regions, star and save."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from studio.gan.formats import load_network
from studio.gan.render import Renderer
from studio.imaging.metadata import read_recipe
from studio.ui.widgets.image_grid import qimage_to_array
from tests.ui.conftest import wait_for


def _drop(canvas, mime, point: QPoint) -> None:
    """What a drag from the grid does at the canvas: enter, move over a region, drop."""
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    for event in (QDragEnterEvent(point, *args), QDragMoveEvent(point, *args), QDropEvent(QPointF(point), *args)):
        QApplication.sendEvent(canvas, event)
        assert event.isAccepted()


def _open(qtbot, window):
    explore = window.explore
    explore.grid.select_rows([0, 1])
    qtbot.mouseClick(explore.panorama_btn, Qt.MouseButton.LeftButton)
    dialog = explore._panorama
    wait_for(qtbot, lambda: dialog.isVisible() and dialog.canvas.image is not None)
    return dialog


def test_seeds_dragged_from_the_grid_land_on_regions_and_the_recipe_recreates_the_panorama(qtbot, make_window,
                                                                                              tiny_model, tmp_path):
    window = make_window(tiny_model)
    grid = window.explore.grid
    first, second = grid.grid_model.items[0].tag, grid.grid_model.items[1].tag
    dialog = _open(qtbot, window)
    assert dialog.canvas.labels == ["01"] and dialog.canvas.seeds[:2] == [first, second]
    assert (dialog.image.width(), dialog.image.height()) == (128, 64)     # two columns: a 2:1 canvas, drawn natively

    sixth = grid.grid_model.items[5].tag
    mime = grid.grid_model.mimeData([grid.grid_model.index(5)])            # what dragging a cell carries
    rect = dialog.canvas.canvas_rect()
    before = dialog.image
    _drop(dialog.canvas, mime, QPoint(rect.right() - 10, rect.center().y()))
    assert dialog.canvas.seeds[1] == sixth
    wait_for(qtbot, lambda: dialog.image is not before and dialog.recipe.regions.latents[0].seed == sixth)
    assert dialog.recipe.seed == first

    dialog.star_btn.click()
    assert window.session.library.count() == 1
    saved = tmp_path / "pano.png"
    dialog.save_png(str(saved))
    wait_for(qtbot, lambda: saved.exists())
    recipe = read_recipe(saved)
    assert recipe.regions.latents[0].seed == sixth and recipe.canvas == [8, 4]
    picture = Renderer(load_network(tiny_model), device="cpu").render_recipe(recipe)
    assert np.array_equal(picture, qimage_to_array(dialog.image))
    dialog.close()


def test_painting_regions_changes_the_map_and_the_picture(qtbot, make_window, tiny_model):
    window = make_window(tiny_model)
    dialog = _open(qtbot, window)
    dialog.layout_combo.setCurrentIndex(dialog.layout_combo.findData("paint"))
    assert dialog.canvas.painting and len(dialog.canvas.labels[0]) == 16
    wait_for(qtbot, lambda: dialog.recipe.regions.labels == dialog.canvas.labels)
    before = dialog.image
    dialog.brush_spin.setValue(2)                                       # paint with region 2 ...
    rect = dialog.canvas.canvas_rect()
    y = rect.top() + 5
    qtbot.mousePress(dialog.canvas, Qt.MouseButton.LeftButton, pos=QPoint(rect.left() + 3, y))
    for x in range(rect.left() + 3, rect.center().x(), 6):               # ... across the top left
        qtbot.mouseMove(dialog.canvas, QPoint(x, y))
    qtbot.mouseRelease(dialog.canvas, Qt.MouseButton.LeftButton, pos=QPoint(rect.center().x() - 3, y))
    assert dialog.canvas.labels[0].startswith("11111111")
    wait_for(qtbot, lambda: dialog.image is not before and dialog.recipe.regions.labels[0].startswith("1111"))
    dialog.close()


def test_panorama_is_offered_only_where_it_can_be_drawn(qtbot, make_window, sg3_model):
    window = make_window(sg3_model)
    assert not window.explore.panorama_btn.isVisibleTo(window) and not window.explore.tile_check.isVisibleTo(window)
    assert window.explore.canvas_combo.isVisibleTo(window)              # StyleGAN3 widens its view
