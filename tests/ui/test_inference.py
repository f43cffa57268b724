"""Results go to the request that asked for them; stale ones reach nobody; no failure is lost."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tests.ui.conftest import wait_for


@pytest.fixture
def client(qtbot):
    from studio.ui.inference import InferenceClient

    made = InferenceClient(device="cpu")
    made.start()
    yield made
    made.shutdown()


def test_each_request_hears_only_its_own_results(client, qtbot):
    release = threading.Event()

    def slow(ctx):
        release.wait(10)
        ctx.emit_image("old", np.zeros((4, 4, 3), np.uint8))
        return "old"

    def fast(tag):
        def job(ctx):
            ctx.emit_progress(1, 1)
            ctx.emit_image(tag, np.full((4, 4, 3), 200, np.uint8))
            return tag
        return job

    heard = {"first": [], "second": [], "other": []}
    first = client.submit("panel.grid", slow).on(image=lambda tag, *_: heard["first"].append(tag),
                                                 finished=lambda r: heard["first"].append(("done", r)))
    other = client.submit("panel.strip", fast("strip")).on(
        image=lambda tag, *_: heard["other"].append(tag), finished=lambda r: heard["other"].append(("done", r)))
    second = client.submit("panel.grid", fast("new")).on(
        image=lambda tag, *_: heard["second"].append(tag), progress=lambda d, t: heard["second"].append((d, t)),
        finished=lambda r: heard["second"].append(("done", r)))
    release.set()
    wait_for(qtbot, lambda: ("done", "new") in heard["second"] and ("done", "strip") in heard["other"])
    assert client.wait_idle(10)
    assert heard["first"] == []                       # superseded by a newer request with its key
    assert heard["second"] == [(1, 1), "new", ("done", "new")]
    assert heard["other"] == ["strip", ("done", "strip")]
    assert not first.is_current() and second.stamp > first.stamp and other.key == "panel.strip"


def test_a_failure_goes_to_its_request_or_else_to_the_window(client, qtbot):
    failures, unhandled = [], []
    client.unhandled_error.connect(unhandled.append)

    def broken(ctx):
        raise ValueError("the seed list is empty")

    client.submit("a", broken).on(failed=failures.append)
    client.submit("b", broken)                        # nobody listens: still reported
    wait_for(qtbot, lambda: bool(failures and unhandled))
    assert failures == ["the seed list is empty"] and unhandled == ["the seed list is empty"]


def test_cancel_silences_a_request(client, qtbot):
    started = threading.Event()

    def long(ctx):
        started.set()
        while not ctx.cancelled():
            time.sleep(0.001)
        ctx.emit_image("late", np.zeros((4, 4, 3), np.uint8))
        return "late"

    heard, stopped = [], []
    request = client.submit("k", long).on(image=lambda *a: heard.append(a), finished=heard.append,
                                          cancelled=lambda: stopped.append(True))
    assert started.wait(10)
    request.cancel()
    assert stopped == [True]                          # told at once, so a panel can give its buttons back
    assert client.wait_idle(10)
    qtbot.wait(50)
    assert heard == [] and stopped == [True]
