"""Fixtures for the library tests."""

from __future__ import annotations

from typing import Iterator

import pytest

from studio.library import Library


@pytest.fixture
def library() -> Iterator[Library]:
    """A library at the default path (inside the per-test STUDIO_HOME)."""
    with Library() as lib:
        yield lib
