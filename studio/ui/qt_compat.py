"""Third-party Qt widgets, imported with the Qt binding pinned to PySide6."""

import os

os.environ.setdefault("QT_API", "pyside6")

from superqt import QLabeledDoubleSlider, QLabeledRangeSlider, QLargeIntSpinBox  # noqa: E402

__all__ = ["QLabeledDoubleSlider", "QLabeledRangeSlider", "QLargeIntSpinBox"]
