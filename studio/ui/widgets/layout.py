"""Layout helpers shared by the panels."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QScrollArea, QStyle, QWidget


def sidebar(content: QWidget, min_width: int = 300) -> QScrollArea:
    """A panel's control column: scrolls vertically, never clips or scrolls sideways."""
    scroll = QScrollArea()
    scroll.setWidget(content)
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    content.setMinimumWidth(max(min_width, content.minimumSizeHint().width()))
    scroll.setFixedWidth(content.minimumWidth() + scroll.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent) + 8)
    return scroll
