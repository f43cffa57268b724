"""The large view: one image at fit / 100% / any zoom, with keyboard navigation to neighbours."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QLabel,
    QToolBar,
    QVBoxLayout,
)


class ZoomView(QGraphicsView):
    """A pannable, zoomable image view. Wheel zooms around the cursor; drag pans."""

    zoom_changed = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self._item)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setBackgroundBrush(Qt.GlobalColor.black)
        self._fit = True

    def set_image(self, image: QImage) -> None:
        self._item.setPixmap(QPixmap.fromImage(image))
        self.scene().setSceneRect(self._item.boundingRect())
        if self._fit:
            self.fit()

    def fit(self) -> None:
        self._fit = True
        self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom_changed.emit(self.transform().m11())

    def actual_size(self) -> None:
        self._fit = False
        self.resetTransform()
        self.zoom_changed.emit(1.0)

    def zoom(self, factor: float) -> None:
        self._fit = False
        current = self.transform().m11()
        factor = max(0.05 / current, min(32.0 / current, factor))
        self.scale(factor, factor)
        self.zoom_changed.emit(self.transform().m11())

    def wheelEvent(self, event) -> None:  # noqa: N802
        self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        event.ignore()  # arrows navigate between images (the dialog handles them), not scroll

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._fit:
            self.fit()


class ImageViewer(QDialog):
    """Shows image ``row`` of a sequence; arrows step through the neighbours.

    ``fetch(row) -> (QImage | None, title)`` supplies images; ``star(row)`` (optional) stars one.
    Signal ``row_changed(row)`` lets the owner keep its selection in step.
    """

    row_changed = Signal(int)

    def __init__(self, fetch: Callable[[int], tuple[QImage | None, str]], count: int, row: int, *,
                 columns: int = 1, star: Callable[[int], None] | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("View")
        self.resize(900, 900)
        self._fetch, self._count, self._columns, self._star = fetch, count, max(1, columns), star
        self.view = ZoomView(self)
        self.caption = QLabel(self)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        bar = QToolBar(self)
        self._keys = {
            Qt.Key.Key_F: self.view.fit, Qt.Key.Key_1: self.view.actual_size,
            Qt.Key.Key_Plus: lambda: self.view.zoom(1.25), Qt.Key.Key_Equal: lambda: self.view.zoom(1.25),
            Qt.Key.Key_Minus: lambda: self.view.zoom(0.8),
            Qt.Key.Key_Left: lambda: self.step(-1), Qt.Key.Key_Right: lambda: self.step(1),
            Qt.Key.Key_Up: lambda: self.step(-self._columns), Qt.Key.Key_Down: lambda: self.step(self._columns),
        }
        self._add(bar, "Fit (F)", self.view.fit)
        self._add(bar, "100% (1)", self.view.actual_size)
        self._add(bar, "Zoom in (+)", lambda: self.view.zoom(1.25))
        self._add(bar, "Zoom out (−)", lambda: self.view.zoom(0.8))
        bar.addSeparator()
        self._add(bar, "◀ Previous", lambda: self.step(-1))
        self._add(bar, "Next ▶", lambda: self.step(1))
        if star is not None:
            self._keys[Qt.Key.Key_S] = lambda: self._star(self.row)
            bar.addSeparator()
            self._add(bar, "★ Star (S)", lambda: self._star(self.row))
        self.zoom_label = QLabel(self)
        bar.addSeparator()
        bar.addWidget(self.zoom_label)
        self.view.zoom_changed.connect(lambda z: self.zoom_label.setText(f"  {z * 100:.0f}%"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.caption)
        self.row = row
        self.show_row(row)

    def _add(self, bar: QToolBar, text: str, slot) -> QAction:
        action = QAction(text, self)
        action.triggered.connect(slot)
        bar.addAction(action)
        return action

    def show_row(self, row: int) -> None:
        self.row = row
        image, title = self._fetch(row)
        self.caption.setText(title)
        self.setWindowTitle(title)
        if image is not None:
            self.view.set_image(image)
        self.row_changed.emit(row)

    def refresh(self) -> None:
        """Re-fetch the current row (its image may have finished rendering)."""
        self.show_row(self.row)

    def step(self, delta: int) -> None:
        row = self.row + delta
        if 0 <= row < self._count:
            self.show_row(row)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.raise_()
        self.activateWindow()           # keys (arrows, Escape, S) reach the view wherever it was opened from

    def keyPressEvent(self, event) -> None:  # noqa: N802
        action = self._keys.get(event.key())
        if action is not None:
            action()
        elif event.key() == Qt.Key.Key_Escape:
            self.close()
        else:
            super().keyPressEvent(event)
