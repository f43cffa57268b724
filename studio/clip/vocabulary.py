"""What a CLIP knows: vocabulary checks, prompt suggestions and class hints (torch-free).

Small CLIPs trained on a closed set of captions, like the bundled default CLIP, only understand
the words they were trained on. Their folder carries ``vocabulary.txt`` (one word per line) and
``prompts.txt`` (example prompts, one per line); general-purpose CLIPs carry neither, and every
function here then answers "unknown" (None or empty) so that callers stay quiet about free text.

This module imports neither torch nor Qt, so the UI thread can check a prompt as it is typed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping, Sequence

from studio.core import paths

__all__ = [
    "DEFAULT_CLIP_DIR",
    "LARGER_CLIP",
    "VOCABULARY_FILE",
    "PROMPTS_FILE",
    "clip_folder",
    "read_lines",
    "read_vocabulary",
    "read_example_prompts",
    "prompt_words",
    "unseen_words",
    "suggest_class",
]

#: The bundled default CLIP: ``config.json`` + ``weights.safetensors`` (+ the two files below).
DEFAULT_CLIP_DIR: Path = paths.bundled_models_dir() / "default-clip"
VOCABULARY_FILE = "vocabulary.txt"
#: The CLIP to suggest for free text: an open_clip NAME:TAG, trained on LAION-2B.
LARGER_CLIP = "ViT-B-32:laion2b_s34b_b79k"
PROMPTS_FILE = "prompts.txt"

_WORD = re.compile(r"[a-z]+")


def clip_folder(spec: str | None) -> Path | None:
    """The folder of a CLIP choice when it has one: ``default`` (or empty) is the bundled CLIP,
    an existing folder is itself, a checkpoint file its parent; open_clip names give None."""
    text = (spec or "").strip()
    if not text or text.lower() == "default":
        return DEFAULT_CLIP_DIR
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    if path.is_file():
        return path.parent
    return None


def read_lines(path: Path) -> list[str] | None:
    """The non-empty, non-comment (``#``) lines of a text file, stripped; None when it is missing.

    Raises OSError or UnicodeDecodeError when the file exists but cannot be read.
    """
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _lines(spec: str | None, name: str) -> list[str] | None:
    folder = clip_folder(spec)
    if folder is None:
        return None
    try:
        return read_lines(folder / name)
    except (OSError, UnicodeDecodeError):
        return None


def read_vocabulary(spec: str | None) -> set[str] | None:
    """The words a CLIP was trained on (lower case), or None when it does not say (free text)."""
    words = _lines(spec, VOCABULARY_FILE)
    return {w.lower() for w in words} if words else None


def read_example_prompts(spec: str | None) -> list[str]:
    """Example prompts shipped with a CLIP (``prompts.txt``), or an empty list."""
    return _lines(spec, PROMPTS_FILE) or []


def prompt_words(prompt: str) -> list[str]:
    """The words of a prompt, lower case, in order (digits and punctuation dropped)."""
    return _WORD.findall(prompt.lower())


def unseen_words(prompt: str, vocabulary: set[str] | None) -> list[str]:
    """Words of ``prompt`` outside ``vocabulary``, each once, in order; none when it is unknown."""
    if not vocabulary:
        return []
    seen: list[str] = []
    for word in prompt_words(prompt):
        if word not in vocabulary and word not in seen:
            seen.append(word)
    return seen


def suggest_class(prompt: str, class_names: Sequence[str],
                  keywords: Mapping[str, Sequence[str]] | None = None) -> int | None:
    """The class of a conditional model a prompt asks for, or None when it names none or several.

    Class names come first: a prompt naming exactly one class (e.g. "a grid painting of ...
    rectangles with black lines") gets it, whatever else it says. Otherwise a class matches when
    one of its ``keywords`` (e.g. the default model's "triangles" for "geometric") appears in the
    prompt. Matching is by whole words.
    """
    text = " " + " ".join(prompt_words(prompt)) + " "

    def mentioned(term: str) -> bool:
        words = prompt_words(term)
        return bool(words) and " " + " ".join(words) + " " in text

    for terms in ([[name] for name in class_names],
                  [list((keywords or {}).get(name, ())) for name in class_names]):
        matches = [k for k, group in enumerate(terms) if any(mentioned(t) for t in group)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            return None
    return None
