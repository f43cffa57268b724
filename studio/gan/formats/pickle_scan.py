"""Check a pickle's opcode stream before any unpickler sees it.

torch's ``weights_only`` loader refuses foreign globals, but it still hashes whatever keys a
file builds, and hashing a tuple nested 150,000 deep recurses in C until the process dies.
:func:`check_nesting` reads the stream with :mod:`pickletools` (which decodes, never runs)
and follows how deeply tuples and frozensets nest -- through the stack, MARKs and the memo --
refusing a file before it can build such a value.
"""

from __future__ import annotations

import io
import pickletools
from collections.abc import Iterator
from pickletools import OpcodeInfo
from typing import Any, BinaryIO

__all__ = ["MAX_NESTING", "PickleTooDeep", "check_nesting", "checked_opcodes"]

#: Deepest tuple / frozenset nesting a file may build (real checkpoints stay below 10).
MAX_NESTING = 64

# Opcodes that pop n items and push one tuple built from them.
_TUPLE_OF = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}
# Opcodes that pop a MARK and the items above it and push one hashable container of them.
_NESTING_FROM_MARK = {"TUPLE", "FROZENSET"}
# Opcodes that call something with values from the file (its result may nest them).
_CALLS = {"REDUCE", "NEWOBJ", "NEWOBJ_EX", "BUILD", "OBJ", "INST"}


class PickleTooDeep(ValueError):
    """The pickle builds a value nested more deeply than :data:`MAX_NESTING`."""


def check_nesting(data: bytes | BinaryIO, limit: int = MAX_NESTING) -> None:
    """Raise :class:`PickleTooDeep` if the pickle in ``data`` nests tuples beyond ``limit``."""
    for _ in checked_opcodes(data, limit):
        pass


def checked_opcodes(data: bytes | BinaryIO, limit: int = MAX_NESTING) -> Iterator[tuple[OpcodeInfo, Any]]:
    """Yield each ``(opcode, argument)`` of the pickle in ``data`` while following its nesting,
    raising :class:`PickleTooDeep` as soon as a value nests beyond ``limit`` -- for callers that
    check other things in the same pass.

    ``data`` is the pickle's bytes, or a stream positioned at its start (left just after its
    STOP, so several pickles written one after another can be checked in turn).

    Every stack entry is tracked as the nesting depth of the value it holds (0 for anything
    that is not a tuple or frozenset). Damaged streams raise ``ValueError`` from pickletools.
    """
    stack: list[int] = []
    marks: list[int] = []
    memo: dict[int, int] = {}
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    for opcode, arg, _pos in pickletools.genops(stream):
        yield opcode, arg
        name = opcode.name
        if name == "MARK":
            marks.append(len(stack))
            continue
        if name in _TUPLE_OF or name in _NESTING_FROM_MARK:
            if name in _TUPLE_OF:
                count = _TUPLE_OF[name]
                start = max(0, len(stack) - count)
            else:
                start = marks.pop() if marks else 0
            depth = 1 + max(stack[start:], default=0)
            if depth > limit:
                raise PickleTooDeep(f"it builds a value nested {depth} levels deep (at most {limit} are read)")
            del stack[start:]
            stack.append(depth)
            continue
        if name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            memo[len(memo) if name == "MEMOIZE" else int(arg)] = stack[-1] if stack else 0
            continue
        if name in ("GET", "BINGET", "LONG_BINGET"):
            stack.append(memo.get(int(arg), 0))
            continue
        if name == "EMPTY_TUPLE":   # a tuple all the same: one level
            stack.append(1)
            continue
        if name == "DUP":
            stack.append(stack[-1] if stack else 0)
            continue
        # Everything else: pop what the opcode consumes (pickletools lists it; a MARK in the
        # list means everything down to the last MARK) and push what it makes. A call's result
        # may be a tuple or frozenset built from its arguments, so it counts one level deeper.
        before = opcode.stack_before
        popped: list[int] = []
        below = len(before)
        if pickletools.markobject in before:
            start = marks.pop() if marks else 0
            popped, stack[start:] = stack[start:], []
            below = before.index(pickletools.markobject)
        if below:
            popped += stack[-below:]
            del stack[-below:]
        made = 1 + max(popped, default=0) if name in _CALLS else 0
        if made > limit:
            raise PickleTooDeep(f"it builds a value nested {made} levels deep (at most {limit} are read)")
        stack.extend(made for _ in opcode.stack_after)
