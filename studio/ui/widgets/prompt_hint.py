"""A line under a prompt saying what the chosen CLIP understands.

Small CLIPs such as the bundled default one know only the words of their training captions
(:mod:`studio.clip.vocabulary`); the hint names every word of the prompt they never saw and
points to a larger CLIP for free text. General-purpose CLIPs publish no vocabulary, so the hint
hides itself for them.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from studio.clip import vocabulary


class PromptHint(QLabel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.words: set[str] | None = None     # the CLIP's vocabulary; None: it reads free text
        self.unseen: list[str] = []
        self.setAlignment(Qt.AlignmentFlag.AlignTop)
        # room for the longest hint from the start, so a warning appearing never moves what is below
        self.setMinimumHeight(self.fontMetrics().lineSpacing() * 4)
        self.hide()

    def set_clip(self, spec: str | None) -> list[str]:
        """Read the vocabulary of the CLIP ``spec`` names; returns its example prompts."""
        self.words = vocabulary.read_vocabulary(spec or "default")
        return vocabulary.read_example_prompts(spec or "default")

    def check(self, text: str) -> list[str]:
        """Show what the CLIP makes of ``text``; returns the words it never saw."""
        self.unseen = vocabulary.unseen_words(text, self.words)
        if self.words is None:
            self.hide()
            return []
        if self.unseen:
            words = ", ".join(f"“{w}”" for w in self.unseen)
            self.setText(f"<span style='color:#b35900'>⚠ This CLIP never saw {words}: it only knows the words of "
                         f"its training captions (families, colours, shapes), so it will guess. For free text, "
                         f"use a larger CLIP such as <code>{vocabulary.LARGER_CLIP}</code>.</span>")
        else:
            self.setText("<span style='color:gray'>This CLIP knows the words of its training captions: "
                         "painting families, colours and shapes.</span>")
        self.show()
        return self.unseen
