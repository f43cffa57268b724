"""The Qt binding itself: defects that would crash a long session must not slip in with an upgrade."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    value = Signal(int)
    payload = Signal(object)


def test_signal_emit_keeps_reference_counts():
    """PySide6 6.12.0 dropped a reference to True on every emit(): the process died after a few
    thousand signals (found by benchmarks/ui_stalls.py). Emitting must leave refcounts alone."""
    emitter = _Emitter()
    emitter.value.connect(lambda v: None)
    emitter.payload.connect(lambda v: None)
    before_true, before_none = sys.getrefcount(True), sys.getrefcount(None)
    for i in range(200):
        emitter.value.emit(i)
        emitter.payload.emit(None)
    assert abs(sys.getrefcount(True) - before_true) < 20
    assert abs(sys.getrefcount(None) - before_none) < 20
