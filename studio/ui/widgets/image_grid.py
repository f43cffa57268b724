"""A grid of images that stream in: seed grids, style-mixing matrices, GA generations, the library.

Cells keep their last image while a new one renders (dimmed), so dragging a slider never
flashes empty cells. Click selects, ctrl/shift extend the selection, double-click or Enter
opens the cell (``opened`` signal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection, Sequence

from PySide6.QtCore import QAbstractListModel, QByteArray, QMimeData, QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem


def qimage_to_array(image: QImage):
    """A QImage -> uint8 [H, W, 3] (or [H, W, 4] when it has alpha), copied."""
    import numpy as np

    alpha = image.hasAlphaChannel()
    image = image.convertToFormat(QImage.Format.Format_RGBA8888 if alpha else QImage.Format.Format_RGB888)
    channels = 4 if alpha else 3
    rows = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes()).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * channels].reshape(image.height(), image.width(), channels).copy()


TagRole = Qt.ItemDataRole.UserRole + 1
ImageRole = Qt.ItemDataRole.UserRole + 2
#: what a grid of seeds puts on the clipboard of a drag: the seeds, comma-separated ASCII
SEED_MIME = "application/x-studio-seeds"


@dataclass
class GridItem:
    tag: Any                         # what the cell shows (a seed, an index, a library id...)
    label: str = ""
    image: QImage | None = None      # full-resolution image
    stale: bool = False              # an older image while a new one renders
    badge: str = ""                  # short text in the top-right corner (a score, a star)
    pixmap: QPixmap | None = None    # cache scaled to the current cell size


class ImageGridModel(QAbstractListModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.items: list[GridItem] = []
        self._thumb_size = 128

    # -- Qt model API --------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 (Qt naming)
        return 0 if parent.isValid() else len(self.items)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        item = self.items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return item.label
        if role == Qt.ItemDataRole.ToolTipRole:
            return item.label + (f"  {item.badge}" if item.badge else "")
        if role == TagRole:
            return item.tag
        if role == ImageRole:
            return item.image
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        base = super().flags(index)
        if index.isValid() and isinstance(self.items[index.row()].tag, int):
            base |= Qt.ItemFlag.ItemIsDragEnabled               # a seed can be dragged (onto a canvas region)
        return base

    def mimeTypes(self) -> list[str]:  # noqa: N802
        return [SEED_MIME]

    def mimeData(self, indexes) -> QMimeData:  # noqa: N802
        seeds = [self.items[i.row()].tag for i in indexes if isinstance(self.items[i.row()].tag, int)]
        data = QMimeData()
        data.setData(SEED_MIME, QByteArray(",".join(str(s) for s in seeds).encode("ascii")))
        data.setText(", ".join(f"seed {s}" for s in seeds))
        return data

    def supportedDragActions(self) -> Qt.DropAction:  # noqa: N802
        return Qt.DropAction.CopyAction

    # -- content -------------------------------------------------------------------------------
    def set_items(self, tags: Sequence[Any], labels: Sequence[str], keep_images: bool = False,
                  fresh: Collection[Any] = ()) -> None:
        """Lay out cells; with ``keep_images`` a cell whose tag is unchanged keeps its picture, dimmed
        until it is rendered again, or as it is when its tag is in ``fresh`` (nothing about it changed)."""
        old = {item.tag: item for item in self.items} if keep_images or fresh else {}
        self.beginResetModel()
        self.items = []
        for tag, label in zip(tags, labels):
            prev = old.get(tag)
            item = GridItem(tag, label)
            if prev is not None and prev.image is not None and (keep_images or tag in fresh):
                item.image, item.pixmap, item.badge = prev.image, prev.pixmap, prev.badge
                item.stale = tag not in fresh
            self.items.append(item)
        self.endResetModel()

    def append_item(self, tag: Any, label: str, image: QImage | None = None) -> int:
        """Add a cell at the end (for results that stream in before the layout is known)."""
        row = len(self.items)
        self.beginInsertRows(QModelIndex(), row, row)
        self.items.append(GridItem(tag, label, image))
        self.endInsertRows()
        return row

    def mark_stale(self) -> None:
        for item in self.items:
            item.stale = item.image is not None
        self._changed(0, len(self.items) - 1)

    def set_image(self, tag: Any, image: QImage, badge: str | None = None) -> int | None:
        """Put an image into the cell with ``tag``; returns its row or None if no such cell."""
        for row, item in enumerate(self.items):
            if item.tag == tag:
                item.image, item.pixmap, item.stale = image, None, False
                if badge is not None:
                    item.badge = badge
                self._changed(row, row)
                return row
        return None

    def set_badge(self, row: int, badge: str) -> None:
        self.items[row].badge = badge
        self._changed(row, row)

    def row_of(self, tag: Any) -> int | None:
        return next((i for i, item in enumerate(self.items) if item.tag == tag), None)

    def set_thumb_size(self, size: int) -> None:
        if size != self._thumb_size:
            self._thumb_size = size
            for item in self.items:
                item.pixmap = None

    def pixmap(self, row: int) -> QPixmap | None:
        item = self.items[row]
        if item.image is None:
            return None
        if item.pixmap is None:
            item.pixmap = QPixmap.fromImage(item.image.scaled(
                self._thumb_size, self._thumb_size, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
        return item.pixmap

    def _changed(self, first: int, last: int) -> None:
        if last >= first:
            self.dataChanged.emit(self.index(first), self.index(last))


class ImageCellDelegate(QStyledItemDelegate):
    """Paints a cell: the image (or a placeholder), the label, the badge, the selection."""

    def __init__(self, grid: "ImageGrid"):
        super().__init__(grid)
        self.grid = grid

    def sizeHint(self, option, index) -> QSize:  # noqa: N802
        return self.grid.cell_size()

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        model: ImageGridModel = index.model()
        item = model.items[index.row()]
        aspect = self.grid.aspect                                  # a tile of the pictures' shape, centred
        width = min(option.rect.width(), round(option.rect.height() * aspect))
        rect = QRect(0, 0, width, round(width / aspect))
        rect.moveCenter(option.rect.center())
        rect = rect.adjusted(3, 3, -3, -3)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(rect, QColor(40, 40, 44))
        pix = model.pixmap(index.row())
        if pix is not None:
            target = QRect(0, 0, pix.width(), pix.height())
            target.moveCenter(rect.center())
            if item.stale:
                painter.setOpacity(0.45)
            painter.drawPixmap(target, pix)
            painter.setOpacity(1.0)
        else:
            painter.setPen(QColor(150, 150, 150))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "rendering…")
        font = QFont(painter.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        painter.setFont(font)
        if item.label:
            metrics = painter.fontMetrics()
            label = metrics.elidedText(item.label, Qt.TextElideMode.ElideRight, max(10, rect.width() - 10))
            box = QRect(rect.left(), rect.bottom() - metrics.height() - 3, metrics.horizontalAdvance(label) + 10,
                        metrics.height() + 4)                  # a caption never runs past its tile
            painter.fillRect(box, QColor(0, 0, 0, 150))
            painter.setPen(QColor(235, 235, 235))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, label)
        if item.badge:
            metrics = painter.fontMetrics()
            box = QRect(0, rect.top(), metrics.horizontalAdvance(item.badge) + 10, metrics.height() + 4)
            box.moveRight(rect.right())
            painter.fillRect(box, QColor(0, 0, 0, 150))
            painter.setPen(QColor(255, 210, 90))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, item.badge)
        if option.state & QStyle.StateFlag.State_Selected:
            pen = QPen(QColor(255, 196, 0), 4)
            painter.setPen(pen)
            painter.drawRect(rect.adjusted(2, 2, -2, -2))
        painter.restore()


class ImageGrid(QListView):
    """Signals: ``opened(row)`` on double-click / Enter; ``selection_changed(list[row])``."""

    opened = Signal(int)
    selection_changed = Signal(list)

    def __init__(self, *, rows: int = 3, cols: int = 7, fit: bool = True, drag_seeds: bool = False, parent=None):
        super().__init__(parent)
        self.grid_model = ImageGridModel(self)
        self.setModel(self.grid_model)
        self.setItemDelegate(ImageCellDelegate(self))
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setUniformItemSizes(True)
        self.setSpacing(0)
        self.setWrapping(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self._rows, self._cols, self._fit = rows, cols, fit
        if drag_seeds:                     # seeds leave the grid by drag (onto a panorama's regions)
            self.setDragEnabled(True)
            self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
            self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.native_size = 0               # the pictures' own size in pixels (0: unknown)
        self.aspect = 1.0                  # the pictures' width / height: wide canvases get wide tiles
        self._fixed_cell = 160
        self.doubleClicked.connect(lambda index: self.opened.emit(index.row()))
        self.selectionModel().selectionChanged.connect(lambda *_: self.selection_changed.emit(self.selected_rows()))

    # -- layout ----------------------------------------------------------------------------------
    def set_shape(self, rows: int, cols: int) -> None:
        self._rows, self._cols = rows, cols
        self._relayout()

    def set_cell_size(self, size: int) -> None:
        """For grids that scroll (fit=False): a fixed cell size."""
        self._fixed_cell = size
        self._relayout()

    def cell_size(self) -> QSize:
        if not self._fit:
            return QSize(self._fixed_cell, self._fixed_cell)
        vp = self.viewport().size()
        # leave room for a vertical scroll bar so a full row never wraps
        width = vp.width() - self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent) - 2
        column = max(48, width // max(1, self._cols))
        row = max(48, (vp.height() - 2) // max(1, self._rows))
        tile = min(column, round(row * self.aspect))                # the tile's width
        native = round(self.native_size * max(1.0, self.aspect))
        if tile < native <= column:
            tile = native                  # never below the pictures' own size while a row has room: scroll
        # cells as wide as a column, so a row holds exactly ``cols`` tiles (of the pictures' shape, centred)
        return QSize(column, max(48, round(tile / self.aspect)))

    def set_aspect(self, aspect: float) -> None:
        """The pictures' shape (width / height) changed: tiles follow it."""
        if aspect != self.aspect:
            self.aspect = aspect
            self._relayout()

    def _relayout(self) -> None:
        size = self.cell_size()
        tile_w = min(size.width(), round(size.height() * self.aspect))
        self.grid_model.set_thumb_size(max(tile_w, round(tile_w / self.aspect)) - 6)
        self.setGridSize(size)
        self.doItemsLayout()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._relayout()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.opened.emit(self.currentIndex().row())
            return
        super().keyPressEvent(event)

    # -- selection -------------------------------------------------------------------------------
    def selected_rows(self) -> list[int]:
        return sorted(index.row() for index in self.selectionModel().selectedIndexes())

    def select_row(self, row: int) -> None:
        index = self.grid_model.index(row)
        self.setCurrentIndex(index)
        self.scrollTo(index)

    def select_rows(self, rows: Sequence[int]) -> None:
        """Select exactly ``rows``, as clicking the first and Ctrl-clicking the others does."""
        rows = list(rows)
        if not rows:
            self.selectionModel().clear()
            return
        self.select_row(rows[0])
        for row in rows[1:]:
            self.selectionModel().select(self.grid_model.index(row), self.selectionModel().SelectionFlag.Select)
