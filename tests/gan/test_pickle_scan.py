"""studio.gan.formats.pickle_scan: nesting is followed through the stack, MARKs, the memo and calls."""

from __future__ import annotations

import io
import pickle
import zipfile

import pytest
import torch

from studio.gan.formats.pickle_scan import MAX_NESTING, PickleTooDeep, check_nesting


def _nested(levels: int) -> tuple:
    value: tuple = ()
    for _ in range(levels - 1):
        value = (value,)
    return value


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_the_limit_is_exact_at_every_protocol(protocol):
    check_nesting(pickle.dumps({_nested(MAX_NESTING): [_nested(MAX_NESTING)] * 3}, protocol=protocol))
    with pytest.raises(PickleTooDeep, match=f"nested {MAX_NESTING + 1} levels deep"):
        check_nesting(pickle.dumps({_nested(MAX_NESTING + 1): 1}, protocol=protocol))


@pytest.mark.parametrize("raw", [
    b"\x80\x02)q\x00" + b"h\x00\x85q\x00" * 70 + b".",        # re-wrapped through the memo
    b"\x80\x02)" + b"2\x86" * 70 + b".",                      # DUP then TUPLE2, doubling nothing
    b"\x80\x02c__builtin__\nfrozenset\n)" + b"\x85" * 70 + b"\x85\x85R.",   # through a call
])
def test_nesting_is_followed_through_memo_dup_and_calls(raw):
    with pytest.raises(PickleTooDeep):
        check_nesting(raw)


def test_a_real_checkpoint_and_several_pickles_in_a_row_pass():
    buffer = io.BytesIO()
    torch.save({"g_ema": {f"layer{i}.weight": torch.zeros(2, 3) for i in range(50)}, "args": (1, (2, 3))}, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        check_nesting(archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl"))))
    stream = io.BytesIO(pickle.dumps(1, protocol=2) + pickle.dumps((2, (3,)), protocol=2))
    check_nesting(stream)
    check_nesting(stream)
    assert stream.read() == b""
