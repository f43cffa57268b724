"""'Get models…': the catalogue of well-known public networks, or any URL, downloaded on demand."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)


class GetModelsDialog(QDialog):
    """Pick a catalogue entry or paste a URL; ``chosen_url`` holds the answer after ``exec()``."""

    def __init__(self, parent=None):
        super().__init__(parent)
        from studio.core.paths import models_cache_dir
        from studio.hub.catalogue import load_catalog

        self.setWindowTitle("Get models")
        self.resize(860, 460)
        self.chosen_url: str | None = None
        try:
            self.entries = load_catalog()
            problem = None
        except ValueError as exc:
            self.entries, problem = [], str(exc)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(
            "Well-known public networks. Opening one downloads it once into "
            f"<code>{models_cache_dir()}</code> (resumable); check each licence before you use the images."))
        self.table = QTableWidget(len(self.entries), 4)
        self.table.setHorizontalHeaderLabels(["Name", "Resolution", "Licence", "Description"])
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, entry in enumerate(self.entries):
            values = [entry.name, f"{entry.resolution}×{entry.resolution}", entry.licence, entry.description]
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(entry.url)
                self.table.setItem(row, col, item)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.resizeColumnsToContents()
        self.table.doubleClicked.connect(lambda _index: self.accept())
        layout.addWidget(self.table, 1)
        if problem:
            layout.addWidget(QLabel(f"The catalogue could not be read: {problem}"))
        url_row = QHBoxLayout()
        url_row.addWidget(QLabel("Or a URL:"))
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("https://…/network-snapshot.pkl")
        url_row.addWidget(self.url_edit, 1)
        layout.addLayout(url_row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def accept(self) -> None:
        url = self.url_edit.text().strip()
        if not url:
            rows = self.table.selectionModel().selectedRows()
            if rows:
                url = self.entries[rows[0].row()].url
        if not url:
            self.url_edit.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        self.chosen_url = url
        super().accept()
