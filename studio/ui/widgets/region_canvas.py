"""The canvas of a panorama: its regions over the rendered picture, seeds dropped onto them, a brush
that paints them."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.ui.widgets.image_grid import SEED_MIME

#: one colour per region (0-8), bright enough to read over a picture
REGION_COLOURS = ("#ffb000", "#3fa7ff", "#ff5c8a", "#5fd35f", "#b48cff", "#ff8040", "#40e0d0", "#e0e040", "#c0c0c0")


class RegionCanvas(QWidget):
    """Signals: ``labels_changed`` after painting, ``seed_dropped(region, seed)`` after a drop."""

    labels_changed = Signal()
    seed_dropped = Signal(int, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setMouseTracking(False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.labels: list[str] = ["01"]
        self.seeds: list[int] = [0, 1]
        self.aspect = 2.0                     # width / height of the canvas
        self.image: QImage | None = None
        self.painting = False                 # the brush is on: a drag paints cells
        self.brush = 0
        self.show_regions = True

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(640, 320)

    # -- geometry ------------------------------------------------------------------------------------
    def canvas_rect(self) -> QRect:
        """Where the canvas sits in the widget: as large as fits, its own shape, centred."""
        w, h = self.width() - 8, self.height() - 8
        if w / max(1, h) > self.aspect:
            w = int(h * self.aspect)
        else:
            h = int(w / self.aspect)
        rect = QRect(0, 0, max(1, w), max(1, h))
        rect.moveCenter(self.rect().center())
        return rect

    def cell_at(self, point: QPoint) -> tuple[int, int] | None:
        rect = self.canvas_rect()
        if not rect.contains(point):
            return None
        rows, cols = len(self.labels), len(self.labels[0])
        col = min(cols - 1, (point.x() - rect.left()) * cols // rect.width())
        row = min(rows - 1, (point.y() - rect.top()) * rows // rect.height())
        return row, col

    def region_at(self, point: QPoint) -> int | None:
        cell = self.cell_at(point)
        return None if cell is None else int(self.labels[cell[0]][cell[1]])

    # -- painting the map ----------------------------------------------------------------------------
    def paint_cell(self, point: QPoint) -> None:
        cell = self.cell_at(point)
        if cell is None:
            return
        row, col = cell
        line = self.labels[row]
        if line[col] != str(self.brush):
            self.labels[row] = line[:col] + str(self.brush) + line[col + 1:]
            self.update()
            self._painted = True

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if self.painting and event.button() == Qt.MouseButton.LeftButton:
            self._painted = False
            self.paint_cell(event.position().toPoint())

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self.painting and event.buttons() & Qt.MouseButton.LeftButton:
            self.paint_cell(event.position().toPoint())

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self.painting and getattr(self, "_painted", False):
            self._painted = False
            self.labels_changed.emit()

    # -- seeds dropped from a grid -------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasFormat(SEED_MIME):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasFormat(SEED_MIME) and self.region_at(event.position().toPoint()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802
        region = self.region_at(event.position().toPoint())
        text = bytes(event.mimeData().data(SEED_MIME)).decode("ascii", "replace")
        seeds = [int(part) for part in text.split(",") if part.strip().isdigit()]
        if region is None or not seeds:
            event.ignore()
            return
        event.acceptProposedAction()
        self.seed_dropped.emit(region, seeds[0])

    # -- drawing -------------------------------------------------------------------------------------
    def paintEvent(self, _event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        rect = self.canvas_rect()
        p.fillRect(self.rect(), QColor(30, 30, 33))
        if self.image is not None:
            p.drawImage(rect, self.image)
        else:
            p.fillRect(rect, QColor(48, 48, 52))
        rows, cols = len(self.labels), len(self.labels[0])
        cell_w, cell_h = rect.width() / cols, rect.height() / rows
        if self.show_regions or self.painting or self.image is None:
            alpha = 90 if self.painting or self.image is None else 0
            for r, line in enumerate(self.labels):
                for c, ch in enumerate(line):
                    left, top = round(rect.left() + c * cell_w), round(rect.top() + r * cell_h)
                    cell = QRect(left, top, round(rect.left() + (c + 1) * cell_w) - left,
                                 round(rect.top() + (r + 1) * cell_h) - top)     # edge to edge: no overlaps
                    if alpha:
                        colour = QColor(REGION_COLOURS[int(ch)])
                        colour.setAlpha(alpha)
                        p.fillRect(cell, colour)
                    # the outline of a region: where a cell's neighbour belongs to another one
                    for dr, dc, a, b in ((0, 1, cell.topRight(), cell.bottomRight()),
                                         (1, 0, cell.bottomLeft(), cell.bottomRight())):
                        rr, cc = r + dr, c + dc
                        if rr < rows and cc < cols and self.labels[rr][cc] != ch:
                            p.setPen(QPen(QColor(255, 255, 255, 200), 2, Qt.PenStyle.DashLine))
                            p.drawLine(a, b)
            self._draw_names(p, rect, cell_w, cell_h)
        p.end()

    def _draw_names(self, p: QPainter, rect: QRect, cell_w: float, cell_h: float) -> None:
        """Each region's number and seed, at the middle of its cells."""
        font = QFont(p.font())
        font.setBold(True)
        p.setFont(font)
        metrics = p.fontMetrics()
        for region in sorted({int(ch) for line in self.labels for ch in line}):
            cells = [(r, c) for r, line in enumerate(self.labels) for c, ch in enumerate(line) if int(ch) == region]
            r = sum(rc[0] for rc in cells) / len(cells)
            c = sum(rc[1] for rc in cells) / len(cells)
            seed = self.seeds[region] if region < len(self.seeds) else None
            text = f"{region + 1}: seed {seed}" if seed is not None else f"{region + 1}: drop a seed"
            box = QRect(0, 0, metrics.horizontalAdvance(text) + 12, metrics.height() + 6)
            box.moveCenter(QPoint(round(rect.left() + (c + 0.5) * cell_w), round(rect.top() + (r + 0.5) * cell_h)))
            p.fillRect(box, QColor(0, 0, 0, 160))
            p.setPen(QColor(REGION_COLOURS[region]))
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
