"""A safe reader for NVIDIA StyleGAN2-ADA / StyleGAN3 network pickles (``network-snapshot-*.pkl``).

Those files are plain pickles of a dict ``{'G', 'D', 'G_ema', 'augment_pipe',
'training_set_kwargs', ...}``. Every network module in them goes through NVIDIA's
"persistence" mechanism: the pickle calls ``torch_utils.persistence._reconstruct_persistent_obj``
with a ``meta`` dict holding the module's whole source text, its class name and its
``__dict__``. NVIDIA's own loader ``exec``s that source, which is arbitrary code execution.

This reader never executes anything from the file. It unpickles with a restricted unpickler:

* every global the file names is looked up in a fixed allow-list and replaced by a harmless
  stand-in written here (never the real callable where that could do anything unsafe); any
  other global raises :class:`UnsafeFileError` before anything from the file has run;
* persistent ids and the ``copyreg`` extension opcodes (EXT1/2/4, which can hand back a
  cached object without consulting ``find_class``) are refused;
* the BUILD opcode (``__setstate__`` / ``__dict__`` updates) is only honoured for numpy
  dtypes and arrays, after their state has been checked;
* each persistent network becomes a :class:`PersistentModule` record: class name,
  constructor arguments, plain attributes, parameters, buffers and child records.
  ``module_src`` is kept as inert text only to name the module; it is never compiled.

Tensor storages inside these pickles are nested legacy ``torch.save`` blobs; their small
pickle headers are decoded (not run) and checked here, then they are read with
``torch.load(..., weights_only=True)``, torch's own restricted loader.

The stdlib's pure-Python unpickler (``pickle._Unpickler``) is used rather than the C one,
because only it lets a subclass replace individual opcodes (EXT, BUILD).
"""

from __future__ import annotations

import _compat_pickle
import hashlib
import io
import math
import os
import pickle
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable

import numpy as np
import torch

from studio.core.errors import ModelFormatError, UnsafeFileError
from studio.gan.formats.pickle_scan import PickleTooDeep, checked_opcodes

__all__ = ["EasyDict", "PersistentModule", "TFNetwork", "read_nvidia_pickle"]


# --------------------------------------------------------------------------------------------
# Public records
# --------------------------------------------------------------------------------------------


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: a plain dict whose keys can also be read as
    attributes (``kwargs.channel_base``). It carries no behaviour from the file."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(repr=False, eq=False)
class PersistentModule:
    """What is left of one NVIDIA network module once its code has been thrown away.

    ``attrs`` holds the module's plain attributes (the ``__dict__`` keys that do not start
    with ``_``, minus ``training``), with numpy scalars turned into Python numbers. Where an
    attribute and ``init_kwargs`` disagree, the attribute is what the network actually used.
    """

    class_name: str
    """Class of the original module, e.g. ``'Generator'``, ``'SynthesisBlock'``."""
    module_name: str
    """Best effort: the module name stored in ``meta`` if any, otherwise
    ``'persistent_src_<12 hex digits of sha256(module_src)>'`` (equal names, equal source)."""
    init_args: tuple
    init_kwargs: dict
    attrs: dict
    parameters: dict[str, torch.Tensor | None] = field(default_factory=dict)
    buffers: dict[str, torch.Tensor | None] = field(default_factory=dict)
    modules: dict[str, PersistentModule | None] = field(default_factory=dict)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Flat ``{'mapping.fc0.weight': tensor, ...}`` over parameters and buffers of this
        module and all its descendants, skipping entries that are None."""
        out: dict[str, torch.Tensor] = {}
        for prefix, module in self._walk():
            for name, tensor in list(module.parameters.items()) + list(module.buffers.items()):
                if tensor is not None:
                    out[prefix + name] = tensor
        return out

    def named_attrs(self) -> dict[str, dict]:
        """``{'': own attrs, 'mapping': ..., 'mapping.fc0': ..., ...}`` for the whole tree."""
        return {prefix[:-1]: module.attrs for prefix, module in self._walk()}

    def submodule(self, path: str) -> PersistentModule:
        """The descendant at a dotted path (``'synthesis.b64.conv0'``); ``''`` is this module.

        Raises KeyError when there is no such module (or it is None)."""
        module: PersistentModule = self
        if not path:
            return module
        walked: list[str] = []
        for part in path.split("."):
            child = module.modules.get(part)
            if child is None:
                where = ".".join(walked) or "the top level"
                raise KeyError(
                    f"{self.class_name} has no submodule '{path}' "
                    f"(no '{part}' under {where})"
                )
            walked.append(part)
            module = child
        return module

    def _walk(self, prefix: str = "") -> list[tuple[str, PersistentModule]]:
        # Iterative so that a hostile, very deep tree cannot exhaust the Python stack.
        out: list[tuple[str, PersistentModule]] = []
        pending: list[tuple[str, PersistentModule]] = [(prefix, self)]
        seen: set[int] = set()
        while pending:
            pre, module = pending.pop()
            if id(module) in seen:  # a pickle can make a module its own descendant
                continue
            seen.add(id(module))
            out.append((pre, module))
            children = [(f"{pre}{n}.", m) for n, m in module.modules.items() if m is not None]
            pending.extend(reversed(children))
        return out

    def __repr__(self) -> str:
        return (
            f"PersistentModule({self.class_name!r}, parameters={list(self.parameters)}, "
            f"buffers={list(self.buffers)}, modules={list(self.modules)})"
        )


# --------------------------------------------------------------------------------------------
# Internal signals (converted to the public error types, with the file name, at the top)
# --------------------------------------------------------------------------------------------


class TFNetwork:
    """What is left of a TensorFlow-era ``dnnlib.tflib.network.Network`` (StyleGAN2, StyleGAN2-ADA TF).

    Its settings (``static_kwargs``), its own variables as numpy arrays under their TF names,
    and its sub-networks (``components``: 'mapping', 'synthesis'). The pickle also carries
    ``build_module_src``, Python source that NVIDIA's TF loader executes: it is dropped unread.
    """

    __slots__ = ("version", "name", "build_func_name", "static_kwargs", "variables", "components", "_built")

    def __init__(self, *args: Any) -> None:   # the pickle calls Network() (REDUCE) or Network.__new__ (NEWOBJ)
        if args:
            raise _Malformed("a TensorFlow network is created with arguments")
        self.version, self.name, self.build_func_name = 0, "", ""
        self.static_kwargs: dict = {}
        self.variables: dict[str, np.ndarray] = {}
        self.components: dict[str, TFNetwork] = {}
        self._built = False

    def all_variables(self) -> dict[str, np.ndarray]:
        """Variables of this network and its components, under '<component>/<name>' (iteratively)."""
        out: dict[str, np.ndarray] = {}
        pending: list[tuple[str, TFNetwork]] = [("", self)]
        seen: set[int] = set()
        while pending:
            prefix, net = pending.pop()
            if id(net) in seen:
                continue
            seen.add(id(net))
            out.update({prefix + k: v for k, v in net.variables.items()})
            pending.extend((f"{prefix}{k}/", c) for k, c in net.components.items())
        return out

    @property
    def built(self) -> bool:
        return getattr(self, "_built", False)

    def set_state(self, state: Any) -> None:
        if self.built:
            raise _Malformed("a TensorFlow network's state is set twice")
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise _Malformed("a TensorFlow network's state is not a dict of names")
        version = state.get("version")
        if not _is_int(version) or not 1 <= version <= 100:
            raise _Malformed(f"a TensorFlow network has the version {version!r}")
        name, func = state.get("name"), state.get("build_func_name")
        if not isinstance(name, str) or not isinstance(func, str):
            raise _Malformed("a TensorFlow network has no name or build function name")
        kwargs = state.get("static_kwargs") or {}
        components = state.get("components") or {}
        variables = state.get("variables") or []
        if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
            raise _Malformed(f"the TensorFlow network {name!r} has malformed settings")
        if not isinstance(components, dict) or not all(
                isinstance(k, str) and isinstance(v, TFNetwork) and v.built for k, v in components.items()):
            raise _Malformed(f"the components of the TensorFlow network {name!r} are not networks")
        if not isinstance(variables, (list, tuple)):
            raise _Malformed(f"the variables of the TensorFlow network {name!r} are not a list")
        own: dict[str, np.ndarray] = {}
        for item in variables:
            if (not isinstance(item, (list, tuple)) or len(item) != 2 or not isinstance(item[0], str)
                    or not isinstance(item[1], (np.ndarray, np.generic))):
                raise _Malformed(f"a variable of the TensorFlow network {name!r} is not a (name, array) pair")
            own[item[0]] = np.asarray(item[1])
        self.version, self.name, self.build_func_name = version, name, func
        self.static_kwargs = _plain(kwargs)
        self.components, self.variables = dict(components), own
        self._built = True  # build_module_src is deliberately not kept

    def __repr__(self) -> str:
        return f"TFNetwork({self.name!r}, {self.build_func_name!r}, variables={len(self.variables)}, " \
               f"components={list(self.components)})"


class _Refused(Exception):
    """The file asked for something unsafe; the message completes 'refused to load X: ...'."""


class _Malformed(Exception):
    """The file is structurally wrong; the message says what."""


class _Truncated(Exception):
    """The data ended before the pickle did."""


_MAX_DEPTH = 64
#: Most tuples and frozensets one dictionary key or set member may be built from. Hashing
#: walks them in C without a recursion check: a key nested 150,000 deep kills the process.
_MAX_KEY_PARTS = 10_000
#: Most containers (lists, tuples, dicts) the attributes of one network object may hold.
_MAX_ATTR_NODES = 1_000_000


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(_is_int(v) and v >= 0 for v in value):
        raise _Malformed(f"{what} is not a tuple of non-negative integers")
    return tuple(value)


# --------------------------------------------------------------------------------------------
# Stand-ins for the allowed globals
# --------------------------------------------------------------------------------------------

# Python containers -------------------------------------------------------------------------


def _check_hashable(values: Any) -> None:
    """Refuse keys (or set members) too deep or too large to hash safely, before hashing them.

    Only tuples and frozensets nest inside a hashable value; the walk is iterative and stops
    at :data:`_MAX_DEPTH` levels or :data:`_MAX_KEY_PARTS` parts, whichever comes first.
    """
    pending = [(value, 1) for value in values if isinstance(value, (tuple, frozenset))]
    parts = 0
    while pending:
        value, depth = pending.pop()
        parts += 1
        if depth > _MAX_DEPTH or parts > _MAX_KEY_PARTS:
            raise _Malformed("a dictionary key or set member is nested too deeply or too large")
        pending.extend((v, depth + 1) for v in value if isinstance(v, (tuple, frozenset)))


def _ordered_dict(items: Any = ()) -> OrderedDict:
    if not isinstance(items, (tuple, list, dict)):
        raise _Malformed("an OrderedDict was given something other than a list of items")
    if not isinstance(items, dict):
        if not all(isinstance(item, (tuple, list)) and len(item) == 2 for item in items):
            raise _Malformed("an OrderedDict was given something other than (key, value) pairs")
        _check_hashable(key for key, _ in items)
    return OrderedDict(items)


def _set(items: Any = ()) -> set:
    if not isinstance(items, (tuple, list)):
        raise _Malformed("a set was given something other than a list of items")
    _check_hashable(items)
    return set(items)


def _frozenset(items: Any = ()) -> frozenset:
    if not isinstance(items, (tuple, list)):
        raise _Malformed("a frozenset was given something other than a list of items")
    _check_hashable(items)
    return frozenset(items)


def _slice(*args: Any) -> slice:
    if not 1 <= len(args) <= 3 or not all(a is None or _is_int(a) for a in args):
        raise _Malformed("a slice was given something other than integers")
    return slice(*args)


def _latin1_text(text: Any, encoding: Any) -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Malformed("unexpected arguments to _codecs.encode")
    return text.encode("latin-1")


def _codecs_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    # Protocol-2 pickles spell every bytes object as _codecs.encode(<str>, 'latin1').
    return _latin1_text(text, encoding)


def _bytes(*args: Any) -> bytes:
    if not args:
        return b""
    if len(args) == 2:
        return _latin1_text(*args)
    raise _Malformed("unexpected arguments to bytes")


def _bytearray(*args: Any) -> bytearray:
    if not args:
        return bytearray()
    if len(args) == 2:
        return bytearray(_latin1_text(*args))
    raise _Malformed("unexpected arguments to bytearray")


# NVIDIA persistence ------------------------------------------------------------------------


def _plain(value: Any, depth: int = 0, seen: dict[int, Any] | None = None) -> Any:
    """numpy scalars -> Python numbers, recursively through tuples, lists and dicts.

    A container the file shares between places is converted once and stays shared (``seen``
    maps id -> converted), so a few hundred bytes of "billion laughs" lists cannot expand into
    gigabytes; more than :data:`_MAX_ATTR_NODES` distinct containers are refused.
    """
    if depth > _MAX_DEPTH:
        raise _Malformed("an attribute is nested too deeply")
    if isinstance(value, np.generic):
        return value.item()
    if not isinstance(value, (tuple, list, dict)):
        return value
    seen = {} if seen is None else seen
    if id(value) in seen:
        return seen[id(value)][1]
    if len(seen) >= _MAX_ATTR_NODES:
        raise _Malformed("an attribute holds too many values")
    if isinstance(value, tuple):
        converted: Any = tuple(_plain(v, depth + 1, seen) for v in value)
    elif isinstance(value, list):
        converted = [_plain(v, depth + 1, seen) for v in value]
    else:
        converted = type(value)()  # dict, OrderedDict or EasyDict: all argument-free
        for key, item in value.items():
            converted[key] = _plain(item, depth + 1, seen)
    seen[id(value)] = (value, converted)   # the original is kept alive so its id stays unique
    return converted


def _named_tensors(value: Any, what: str) -> dict[str, torch.Tensor | None]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Malformed(f"{what} is not a dict")
    for name, tensor in value.items():
        if not isinstance(name, str) or not (tensor is None or isinstance(tensor, torch.Tensor)):
            raise _Malformed(f"{what} holds something other than named tensors")
    return dict(value)


def _module_name(meta: dict) -> str:
    name = meta.get("module_name")
    if isinstance(name, str) and name:
        return name
    source = meta.get("module_src")
    if not isinstance(source, str):
        return ""
    # Hashing only: the text is never compiled or executed.
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"persistent_src_{digest}"


def _reconstruct_persistent_obj(meta: Any) -> PersistentModule:
    """Stand-in for NVIDIA's reconstructor: records the module, never runs ``module_src``."""
    if not isinstance(meta, dict):
        raise _Malformed("a persistent network object has no metadata dict")
    if meta.get("type") != "class":
        raise _Malformed(f"a persistent object has unknown type {meta.get('type')!r}")
    class_name = meta.get("class_name")
    state = meta.get("state")
    if not isinstance(class_name, str) or not class_name:
        raise _Malformed("a persistent network object has no class name")
    if not isinstance(state, dict):
        raise _Malformed(f"the persistent object {class_name!r} has no state dict")

    modules_raw = state.get("_modules")
    if modules_raw is None:
        modules_raw = {}
    if not isinstance(modules_raw, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, PersistentModule))
        for k, v in modules_raw.items()
    ):
        raise _Malformed(f"the submodules of {class_name!r} are not persistent network objects")

    init_args = state.get("_init_args", ())
    init_kwargs = state.get("_init_kwargs", {})
    if init_args is None:
        init_args = ()
    if init_kwargs is None:
        init_kwargs = {}
    if not isinstance(init_args, (tuple, list)) or not isinstance(init_kwargs, dict):
        raise _Malformed(f"the constructor arguments of {class_name!r} are malformed")

    attrs = {
        key: _plain(value)
        for key, value in state.items()
        if isinstance(key, str) and not key.startswith("_") and key != "training"
    }
    return PersistentModule(
        class_name=class_name,
        module_name=_module_name(meta),
        init_args=tuple(_plain(tuple(init_args))),
        init_kwargs=_plain(init_kwargs),
        attrs=attrs,
        parameters=_named_tensors(state.get("_parameters"), f"the parameters of {class_name!r}"),
        buffers=_named_tensors(state.get("_buffers"), f"the buffers of {class_name!r}"),
        modules=dict(modules_raw),
    )


# torch ------------------------------------------------------------------------------------

_TORCH_DTYPE_NAMES = (
    "float16", "float32", "float64", "bfloat16", "half", "float", "double",
    "complex64", "complex128", "cfloat", "cdouble",
    "uint8", "int8", "int16", "int32", "int64", "short", "int", "long", "bool",
)
_TORCH_DTYPES: dict[str, torch.dtype] = {
    name: getattr(torch, name) for name in _TORCH_DTYPE_NAMES if hasattr(torch, name)
}
_TENSOR_DTYPES = frozenset(_TORCH_DTYPES.values())


def _torch_size(dims: Any = ()) -> torch.Size:
    return torch.Size(_int_tuple(dims, "a torch.Size"))


# Pickle instructions a legacy storage blob never contains (it is written at protocol 2 and
# holds only numbers, a dict of type sizes, one persistent id and a list of keys).
_BLOB_FORBIDDEN_OPS = frozenset(
    {"STACK_GLOBAL", "INST", "OBJ", "REDUCE", "NEWOBJ", "NEWOBJ_EX", "BUILD",
     "EXT1", "EXT2", "EXT4", "PERSID"}
)


def _prescan_storage_blob(blob: bytes) -> None:
    """Decode (never run) the five small pickles at the head of a legacy ``torch.save`` blob
    -- magic number, protocol version, system info, the storage reference, the storage keys --
    and refuse anything but torch storage classes. This keeps the blob check independent of
    whatever else the process may have added to torch's weights-only allow-list."""
    if blob[:2] != b"\x80\x02":
        raise _Malformed("a tensor storage is not in the format torch writes into network pickles")
    stream = io.BytesIO(blob)
    try:
        for _ in range(5):
            for opcode, arg in checked_opcodes(stream):   # also follows how deeply values nest
                if opcode.name == "GLOBAL":
                    module, _, name = str(arg).partition(" ")
                    if module not in ("torch", "torch.cuda") or not name.endswith("Storage"):
                        raise _Refused(
                            f"a tensor storage inside it references the global '{module}.{name}', "
                            "which a network file never needs"
                        )
                elif opcode.name in _BLOB_FORBIDDEN_OPS:
                    raise _Refused(
                        f"a tensor storage inside it uses the pickle instruction {opcode.name}, "
                        "which a storage never needs"
                    )
    except PickleTooDeep as exc:   # torch's loader would hash a key nested this deep and crash
        raise _Malformed(f"a tensor storage is damaged: {exc}") from None
    except (ValueError, EOFError, UnicodeDecodeError) as exc:
        raise _Malformed(f"a tensor storage is damaged ({exc})") from None


def _load_from_bytes(blob: Any) -> torch.storage.TypedStorage:
    """Stand-in for ``torch.storage._load_from_bytes``: the blob is checked by
    :func:`_prescan_storage_blob`, then read by torch's weights-only loader, which refuses any
    global outside its own allow-list."""
    if not isinstance(blob, (bytes, bytearray)):
        raise _Malformed("a tensor storage is not stored as bytes")
    _prescan_storage_blob(bytes(blob))
    try:
        storage = torch.load(io.BytesIO(bytes(blob)), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        raise _Refused(
            "a tensor storage inside it holds a pickle that torch's safe loader refused "
            f"({_torch_refusal_reason(exc)})"
        ) from None
    except Exception as exc:  # truncated or corrupt blob
        raise _Malformed(f"a tensor storage is damaged ({type(exc).__name__}: {exc})") from None
    if not isinstance(storage, torch.storage.TypedStorage):
        raise _Malformed(f"a tensor storage blob holds a {type(storage).__name__}, not a storage")
    if storage.dtype not in _TENSOR_DTYPES:
        raise _Malformed(f"a tensor storage has the unsupported type {storage.dtype}")
    return storage


def _torch_refusal_reason(exc: BaseException) -> str:
    text = str(exc)
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if found:
        return f"it references the global '{found.group(1)}'"
    # Keep torch's reason, drop its advice to retry with weights_only=False.
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip()
        and "weights_only" not in line
        and not line.startswith("Weights only load failed")
        and not line.startswith("Check the documentation")
    ]
    return " ".join(lines)[:300] or type(exc).__name__


def _rebuild_tensor_v2(
    storage: Any,
    storage_offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any,
    backward_hooks: Any,
    metadata: Any = None,
) -> torch.Tensor:
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: a plain tensor viewing the storage."""
    if not isinstance(storage, torch.storage.TypedStorage):
        raise _Malformed("a tensor does not refer to a storage")
    if not _is_int(storage_offset) or storage_offset < 0:
        raise _Malformed("a tensor has an invalid storage offset")
    size = _int_tuple(size, "a tensor size")
    stride = _int_tuple(stride, "a tensor stride")
    if len(size) != len(stride):
        raise _Malformed("a tensor's size and stride differ in length")
    if not isinstance(requires_grad, bool):
        raise _Malformed("a tensor's requires_grad flag is not a bool")
    if not isinstance(backward_hooks, dict) or not (metadata is None or isinstance(metadata, dict)):
        raise _Malformed("a tensor has malformed hook or metadata fields")
    dtype = storage.dtype
    untyped = storage._untyped_storage
    available = untyped.nbytes() // dtype.itemsize
    if math.prod(size) > 0:
        extent = storage_offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1
        if extent > available:
            raise _Malformed("a tensor reaches past the end of its storage")
    tensor = torch.empty((0,), dtype=dtype, device="cpu")
    return tensor.set_(untyped, storage_offset, size, stride)


def _rebuild_parameter(data: Any, requires_grad: Any, backward_hooks: Any) -> torch.Tensor:
    """Stand-in for ``torch._utils._rebuild_parameter``: returns the plain data tensor."""
    if not isinstance(data, torch.Tensor) or not isinstance(requires_grad, bool):
        raise _Malformed("a parameter does not hold a tensor")
    if not isinstance(backward_hooks, dict):
        raise _Malformed("a parameter has malformed hooks")
    return data


def _rebuild_parameter_with_state(
    data: Any, requires_grad: Any, backward_hooks: Any, state: Any
) -> torch.Tensor:
    """Stand-in for ``torch._utils._rebuild_parameter_with_state``; the extra Python
    attributes in ``state`` are dropped."""
    if not (state is None or isinstance(state, (dict, tuple))):
        raise _Malformed("a parameter has malformed state")
    return _rebuild_parameter(data, requires_grad, backward_hooks)


# numpy ------------------------------------------------------------------------------------

_NUMPY_KINDS = frozenset("biufcSU")
#: Longest fixed-width string a network file could sensibly hold in one numpy item.
_MAX_NP_ITEMSIZE = 1 << 16


def _check_np_dtype(dtype: Any, what: str) -> np.dtype:
    if not isinstance(dtype, np.dtype):
        raise _Malformed(f"{what} has no valid numpy dtype")
    if dtype.hasobject:
        raise _Refused(
            f"it holds a numpy {what} of Python objects, which a network file never needs"
        )
    if dtype.kind not in _NUMPY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise _Malformed(f"{what} has the unsupported numpy dtype {dtype}")
    # A dtype's state carries its own item size; a forged one (a 3-byte float, a unicode item
    # that is not whole characters) would make numpy read past its buffers.
    if dtype.itemsize > _MAX_NP_ITEMSIZE or np.dtype(dtype.str).itemsize != dtype.itemsize:
        raise _Malformed(f"{what} has a numpy dtype with a forged item size ({dtype.itemsize} bytes)")
    return dtype


def _numpy_dtype(spec: Any, align: Any = False, copy: Any = False) -> np.dtype:
    """Stand-in for ``numpy.dtype``: simple numeric and string dtypes only. Always makes a
    copy, so the BUILD that follows can never touch numpy's shared built-in dtypes."""
    if not isinstance(spec, str) or not isinstance(align, (bool, int)):
        raise _Malformed("a numpy dtype is malformed")
    try:
        dtype = np.dtype(spec)
    except (TypeError, ValueError):
        raise _Malformed(f"unknown numpy dtype {spec[:40]!r}") from None
    _check_np_dtype(dtype, "value")
    return np.dtype(spec, align=bool(align), copy=True)


def _build_dtype(dtype: np.dtype, state: Any) -> None:
    # numpy writes (3, byteorder, subarray, names, fields, elsize, alignment, flags) and a
    # fourth-version tuple with metadata appended.
    if (
        not isinstance(state, tuple)
        or len(state) not in (8, 9)
        or state[0] not in (3, 4)
        or state[1] not in ("<", ">", "|", "=")
        or any(part is not None for part in state[2:5])
        or not all(_is_int(part) for part in state[5:8])
        or (len(state) == 9 and state[8] not in (None, {}))
    ):
        raise _Malformed("a numpy dtype has an unexpected state")
    dtype.__setstate__(state)
    _check_np_dtype(dtype, "value")


class _NDArrayToken:
    """What ``numpy.ndarray`` resolves to: an inert marker, not the real (callable) class."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<numpy.ndarray marker>"


_NDARRAY = _NDArrayToken()


def _numpy_reconstruct(subtype: Any, shape: Any, typecode: Any) -> np.ndarray:
    """Stand-in for ``numpy.core.multiarray._reconstruct``: an empty array that the BUILD
    opcode then fills (through :func:`_build_ndarray`)."""
    if subtype is not _NDARRAY or typecode not in (b"b", "b"):
        raise _Malformed("a numpy array is malformed")
    _int_tuple(shape, "a numpy array shape")
    return np.empty((0,), dtype=np.int8)


def _build_ndarray(array: np.ndarray, state: Any) -> None:
    if not isinstance(state, tuple) or len(state) != 5 or state[0] != 1:
        raise _Malformed("a numpy array has an unexpected state")
    _, shape, dtype, fortran, data = state
    shape = _int_tuple(shape, "a numpy array shape")
    dtype = _check_np_dtype(dtype, "array")
    if not isinstance(fortran, bool) or not isinstance(data, (bytes, bytearray)):
        raise _Malformed("a numpy array has malformed data")
    if len(data) != math.prod(shape) * dtype.itemsize:
        raise _Malformed("a numpy array's data does not match its shape")
    array.__setstate__((1, shape, dtype, fortran, data))


def _numpy_scalar(dtype: Any, data: Any = None) -> np.generic:
    """Stand-in for ``numpy.core.multiarray.scalar``: decodes the raw bytes of a scalar."""
    dtype = _check_np_dtype(dtype, "scalar")
    if not isinstance(data, (bytes, bytearray)) or len(data) != dtype.itemsize:
        raise _Malformed("a numpy scalar has malformed data")
    return np.frombuffer(bytes(data), dtype=dtype, count=1)[0]


def _numpy_frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    """Stand-in for ``numpy.core.numeric._frombuffer`` (arrays at pickle protocol 5)."""
    dtype = _check_np_dtype(dtype, "array")
    shape = _int_tuple(shape, "a numpy array shape")
    if isinstance(buffer, pickle.PickleBuffer):
        buffer = buffer.raw()
    if not isinstance(buffer, (bytes, bytearray, memoryview)) or order not in ("C", "F"):
        raise _Malformed("a numpy array has malformed data")
    if len(memoryview(buffer).cast("B")) != math.prod(shape) * dtype.itemsize:
        raise _Malformed("a numpy array's data does not match its shape")
    flat = np.frombuffer(buffer, dtype=dtype)
    return flat.reshape(shape, order=order).copy(order=order)


# --------------------------------------------------------------------------------------------
# The allow-list
# --------------------------------------------------------------------------------------------

_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("builtins", "set"): _set,
    ("builtins", "frozenset"): _frozenset,
    ("builtins", "slice"): _slice,
    ("builtins", "bytes"): _bytes,
    ("builtins", "bytearray"): _bytearray,
    ("_codecs", "encode"): _codecs_encode,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("torch", "Size"): _torch_size,
    ("numpy", "dtype"): _numpy_dtype,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("numpy.core.numeric", "_frombuffer"): _numpy_frombuffer,
}
_ALLOWED.update({("torch", name): dtype for name, dtype in _TORCH_DTYPES.items()})

# Modules that forks vendor under a package prefix ('mypkg.torch_utils.persistence').
_ALLOWED_VENDORED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("dnnlib.tflib.network", "Network"): TFNetwork,   # its __new__ / __init__ only make an empty record
}


def _module_matches(module: str, expected: str) -> bool:
    return module == expected or module.endswith("." + expected)


def _resolve_global(module: str, name: str) -> Any:
    found = _ALLOWED.get((module, name))
    if found is not None:
        return found
    for (expected, expected_name), stand_in in _ALLOWED_VENDORED.items():
        if name == expected_name and _module_matches(module, expected):
            return stand_in
    raise _Refused(f"it references the global '{module}.{name}', which a network file never needs")


# --------------------------------------------------------------------------------------------
# The restricted unpickler
# --------------------------------------------------------------------------------------------


class _Dispatch(dict):
    """Opcode table whose unknown entries say so (the stdlib's lookup raises KeyError)."""

    def __missing__(self, opcode: int) -> Callable[[Any], None]:
        raise _Malformed(
            f"it is damaged (the byte 0x{opcode:02x} stands where a pickle instruction should)"
        )


class _SafeUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    dispatch: dict[int, Callable[[Any], None]] = _Dispatch(
        pickle._Unpickler.dispatch  # type: ignore[attr-defined]
    )

    def find_class(self, module: str, name: str) -> Any:
        if self.proto < 3:  # Python 2 spellings, as the stdlib maps them (names only)
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        return _resolve_global(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("it uses a pickle persistent id, which a network file never needs")

    def _refuse_extension(self) -> None:
        # EXT opcodes fetch objects through the copyreg extension registry, whose cache
        # returns objects without ever asking find_class.
        raise _Refused(
            "it uses a pickle extension code (the copyreg registry), which a network file "
            "never needs"
        )

    def _load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, np.dtype):
            _build_dtype(inst, state)
        elif type(inst) is np.ndarray:
            _build_ndarray(inst, state)
        elif type(inst) is TFNetwork:
            inst.set_state(state)
        elif isinstance(inst, dict) and (state is None or (type(state) is dict and not state)):
            pass  # an empty instance __dict__: nothing to set
        else:
            raise _Refused(
                f"it asks to set the state of a {type(inst).__name__} object, which a "
                "network file never needs"
            )

    # Every opcode that hashes a value from the file checks it first (see _check_hashable).
    def _load_setitem(self) -> None:
        _check_hashable(self.stack[-2:-1])
        pickle._Unpickler.load_setitem(self)  # type: ignore[attr-defined]

    def _load_setitems(self) -> None:
        _check_hashable(self.stack[0::2])   # the items since the MARK: key, value, key, ...
        pickle._Unpickler.load_setitems(self)  # type: ignore[attr-defined]

    def _load_dict(self) -> None:
        _check_hashable(self.stack[0::2])
        pickle._Unpickler.load_dict(self)  # type: ignore[attr-defined]

    def _load_additems(self) -> None:
        _check_hashable(self.stack)
        pickle._Unpickler.load_additems(self)  # type: ignore[attr-defined]

    def _load_frozenset(self) -> None:
        _check_hashable(self.stack)
        pickle._Unpickler.load_frozenset(self)  # type: ignore[attr-defined]

    dispatch[pickle.SETITEM[0]] = _load_setitem
    dispatch[pickle.SETITEMS[0]] = _load_setitems
    dispatch[pickle.DICT[0]] = _load_dict
    dispatch[pickle.ADDITEMS[0]] = _load_additems
    dispatch[pickle.FROZENSET[0]] = _load_frozenset
    dispatch[pickle.EXT1[0]] = _refuse_extension
    dispatch[pickle.EXT2[0]] = _refuse_extension
    dispatch[pickle.EXT4[0]] = _refuse_extension
    dispatch[pickle.BUILD[0]] = _load_build


class _BoundedReader:
    """File wrapper for the unpickler: a read past the end raises :class:`_Truncated`
    instead of returning short data or trying to allocate a length the file declares."""

    def __init__(self, file: BinaryIO, remaining: int) -> None:
        self._file = file
        self._remaining = remaining

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self._remaining
        if n > self._remaining:
            raise _Truncated
        data = self._file.read(n)
        if len(data) != n:
            raise _Truncated
        self._remaining -= n
        return data

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = len(view)
        if n > self._remaining:
            raise _Truncated
        got = 0
        while got < n:
            count = self._file.readinto(view[got:])
            if not count:
                raise _Truncated
            got += count
        self._remaining -= n
        return n

    def readline(self) -> bytes:
        line = self._file.readline(self._remaining)
        self._remaining -= len(line)
        if not line.endswith(b"\n"):
            raise _Truncated
        return line


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _label(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return f"'{os.path.basename(os.fspath(source))}'"
    name = getattr(source, "name", None)
    if isinstance(name, (str, os.PathLike)):
        return f"'{os.path.basename(os.fspath(name))}'"
    return "the stream"


def _describe_start(head: bytes) -> str:
    stripped = head.lstrip()
    if stripped[:1] in (b"{", b"["):
        return "it looks like a JSON text file"
    if head.startswith(b"\x89HDF") or head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8"):
        return "it looks like an image or data file"
    try:
        head.decode("utf-8")
        if head and all(ch >= 0x20 or ch in b"\t\r\n" for ch in head):
            return "it looks like a text file"
    except UnicodeDecodeError:
        pass
    return f"it starts with the bytes {head[:8].hex(' ')}"


def _read(file: BinaryIO, size: int, label: str) -> dict:
    head = file.read(8)
    if not head:
        raise ModelFormatError(f"{label} is empty, so it is not an NVIDIA network pickle.")
    file.seek(-len(head), io.SEEK_CUR)
    if head.startswith(b"PK"):
        raise ModelFormatError(
            f"{label} is a zip archive (such as a torch.save checkpoint), so it is not an NVIDIA "
            "network pickle; rosinality .pt checkpoints are read by their own loader."
        )
    if head[0] != pickle.PROTO[0] or len(head) < 2:
        raise ModelFormatError(
            f"{label} is not an NVIDIA network pickle: {_describe_start(head)} (a network "
            "pickle starts with the marker of pickle protocol 2 or newer)."
        )
    if not 2 <= head[1] <= pickle.HIGHEST_PROTOCOL:
        raise ModelFormatError(
            f"{label} is not an NVIDIA network pickle it can read: it claims pickle protocol "
            f"{head[1]}, and only 2 to {pickle.HIGHEST_PROTOCOL} exist here."
        )

    unpickler = _SafeUnpickler(_BoundedReader(file, size))
    try:
        result = unpickler.load()
    except _Refused as exc:
        raise UnsafeFileError(f"refused to load {label}: {exc}; nothing from the file was run.") from None
    except _Malformed as exc:
        raise ModelFormatError(f"{label} is not a valid NVIDIA network pickle: {exc}.") from None
    except (_Truncated, EOFError):
        raise ModelFormatError(
            f"{label} is truncated: the data ends before the pickle does (an incomplete "
            "download or copy?)."
        ) from None
    except (RecursionError, MemoryError) as exc:
        raise ModelFormatError(
            f"{label} is not a valid NVIDIA network pickle: its structure is too large or too "
            f"deep to read ({type(exc).__name__})."
        ) from None
    except Exception as exc:
        text = str(exc)
        if "truncated" in text:
            raise ModelFormatError(
                f"{label} is truncated: the data ends before the pickle does (an incomplete "
                "download or copy?)."
            ) from exc
        raise ModelFormatError(
            f"{label} is damaged or not an NVIDIA network pickle ({type(exc).__name__}: "
            f"{text[:200]})."
        ) from exc
    return _check_top_level(result, label)


def _check_top_level(result: Any, label: str) -> dict:
    if isinstance(result, TFNetwork) or (isinstance(result, tuple) and any(isinstance(n, TFNetwork) for n in result)):
        # TensorFlow era: (G, D, Gs), Gs being the moving average one renders with
        if not (isinstance(result, tuple) and len(result) == 3
                and all(isinstance(n, TFNetwork) and n.built for n in result)):
            raise ModelFormatError(f"{label} is a TensorFlow-era network object but not the (G, D, Gs) of a "
                                   "StyleGAN2 snapshot, or one of them has no state.")
        return {"G": result[0], "D": result[1], "G_ema": result[2]}
    if not isinstance(result, dict):
        what = "a network object" if isinstance(result, PersistentModule) else type(result).__name__
        raise ModelFormatError(
            f"{label} is not an NVIDIA network pickle: its top level is {what}, not the dict "
            "of networks ('G', 'D', 'G_ema', ...)."
        )
    key = "G_ema" if "G_ema" in result else "G" if "G" in result else None
    if key is None:
        keys = ", ".join(repr(k) for k in list(result)[:8]) or "none"
        raise ModelFormatError(
            f"{label} is not an NVIDIA network pickle: it has no 'G_ema' or 'G' network "
            f"(its keys: {keys})."
        )
    if not isinstance(result[key], (PersistentModule, TFNetwork)):
        raise ModelFormatError(
            f"{label} is not an NVIDIA network pickle: its '{key}' entry is "
            f"{type(result[key]).__name__}, not a network."
        )
    return result


def read_nvidia_pickle(source: str | os.PathLike[str] | BinaryIO) -> dict[str, Any]:
    """Read an NVIDIA StyleGAN2-ADA / StyleGAN3 network pickle without running any of it.

    ``source`` is a path or a binary file object. Returns the file's top-level dict
    (``'G_ema'``, ``'G'``, ``'D'``, ``'augment_pipe'``, ``'training_set_kwargs'``, ...) with a
    :class:`PersistentModule` in place of each network; tensors are plain CPU tensors.

    Raises :class:`UnsafeFileError` when the file references anything outside the
    allow-list (nothing from it has run by then), and :class:`ModelFormatError` when it is
    empty, truncated, not a pickle, or not a dict holding a 'G_ema' (or 'G') network.
    """
    label = _label(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as file:
                size = os.fstat(file.fileno()).st_size
                return _read(file, size, label)
        except OSError as exc:
            raise ModelFormatError(f"{label} could not be read: {exc.strerror or exc}.") from exc
    try:
        if source.seekable():
            start = source.tell()
            size = source.seek(0, io.SEEK_END) - start
            source.seek(start)
            stream: BinaryIO = source
        else:
            data = source.read()
            size = len(data)
            stream = io.BytesIO(data)
    except OSError as exc:
        raise ModelFormatError(f"{label} could not be read: {exc}.") from exc
    except (AttributeError, TypeError) as exc:
        raise TypeError("read_nvidia_pickle needs a path or a binary file object") from exc
    return _read(stream, size, label)
