"""Layout helpers shared by the panels."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QStyle,
    QWidget,
)

#: Controls that change their value under the mouse wheel.
WHEEL_CONTROLS = (QComboBox, QAbstractSpinBox, QAbstractSlider)


class _WheelOnlyWhenFocused(QObject):
    """Scrolling a sidebar never changes a control the pointer passes over: the wheel goes to a
    combo box, spin box or slider only when it has the keyboard focus (a click gives it)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget) and not watched.hasFocus():
            event.ignore()           # the scroll area behind scrolls instead
            return True
        return False


def path_row(edit: QLineEdit, on_browse, button_text: str = "Browse…") -> QHBoxLayout:
    """A path field with its button beside it (the button calls ``on_browse``)."""
    browse = QPushButton(button_text)
    browse.clicked.connect(lambda: on_browse())
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(browse)
    return row


def slider_row(low: int, high: int, value_text: str, value_width: int = 40,
               tooltip: str = "") -> tuple[QSlider, QLabel, QHBoxLayout]:
    """A horizontal slider from ``low`` to ``high`` with a label showing its value beside it."""
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(low, high)
    if tooltip:
        slider.setToolTip(tooltip)
    value = QLabel(value_text)
    value.setMinimumWidth(value_width)
    row = QHBoxLayout()
    row.addWidget(slider, 1)
    row.addWidget(value)
    return slider, value, row


def sidebar(content: QWidget, min_width: int = 300) -> QScrollArea:
    """A panel's control column: scrolls vertically, never clips or scrolls sideways, and its
    controls ignore the wheel until clicked (see :class:`_WheelOnlyWhenFocused`)."""
    scroll = QScrollArea()
    scroll.setWidget(content)
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    content.setMinimumWidth(max(min_width, content.minimumSizeHint().width()))
    scroll.setFixedWidth(content.minimumWidth() + scroll.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent) + 8)
    guard = _WheelOnlyWhenFocused(scroll)
    for control in content.findChildren(QWidget):
        if isinstance(control, WHEEL_CONTROLS):
            control.setFocusPolicy(Qt.FocusPolicy.StrongFocus)    # the wheel alone never gives focus
            control.installEventFilter(guard)
    return scroll
