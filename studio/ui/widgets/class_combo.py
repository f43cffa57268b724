"""The class list of a conditional model in a combo box ("0: geometric", or "Class 0" unnamed)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox


def fill_class_combo(combo: QComboBox, info: dict) -> None:
    """Replace ``combo``'s items with the classes of the model ``info`` describes (item data: the index)."""
    combo.blockSignals(True)
    combo.clear()
    names = info.get("class_names") or []
    for k in range(info.get("c_dim", 0)):
        combo.addItem(f"{k}: {names[k]}" if k < len(names) else f"Class {k}", k)
    combo.blockSignals(False)
