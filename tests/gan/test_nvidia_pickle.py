"""Tests for the safe NVIDIA network-pickle reader.

The NVIDIA-style files are built here: fake ``torch_utils.persistence`` and ``dnnlib.util``
modules are put into ``sys.modules`` only while pickling (so that ``pickle`` can name them),
and removed again before anything is read, so the reader cannot resolve anything real.
"""

from __future__ import annotations

import copy
import copyreg
import io
import json
import os
import pickle
import random
import subprocess
import sys
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from studio.core.errors import ModelFormatError, UnsafeFileError
from studio.gan.formats.nvidia_pickle import EasyDict, PersistentModule, read_nvidia_pickle
from tests.nvidia_pickles import NvidiaStyle, dump_nvidia, refusal_in_a_child

PROTOCOLS = [2, 3, 4, 5]
_FAKE_ROOTS = ("torch_utils", "dnnlib", "mypkg")


class FullyConnectedLayer(NvidiaStyle, torch.nn.Module):
    def __init__(self, in_features, out_features, bias=True, lr_multiplier=1.0):
        super().__init__()
        self._init_args = (in_features, out_features)
        self._init_kwargs = {"bias": bias, "lr_multiplier": lr_multiplier}
        self.in_features = in_features
        self.activation = "lrelu"
        self.weight = torch.nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        if bias:
            self.bias = torch.nn.Parameter(torch.randn(out_features))
        else:
            self.register_parameter("bias", None)
        self.weight_gain = np.float64(lr_multiplier / np.sqrt(in_features))
        self.bias_gain = lr_multiplier


class MappingNetwork(NvidiaStyle, torch.nn.Module):
    def __init__(self, z_dim=8, w_dim=8, num_ws=4):
        super().__init__()
        self._init_kwargs = {"z_dim": z_dim, "w_dim": w_dim, "num_ws": num_ws}
        self.z_dim, self.w_dim, self.num_ws = z_dim, w_dim, num_ws
        self.w_avg_beta = np.float64(0.995)
        self.num_layers = np.int64(2)
        self.features_list = (z_dim, 16, w_dim)
        self.embed = None
        self.fc0 = FullyConnectedLayer(z_dim, 16, lr_multiplier=0.01)
        self.fc1 = FullyConnectedLayer(16, w_dim, bias=False, lr_multiplier=0.01)
        self.register_buffer("w_avg", torch.randn(w_dim))
        self.register_buffer("c_avg", None)


class SynthesisLayer(NvidiaStyle, torch.nn.Module):
    def __init__(self, channels=4, resolution=8):
        super().__init__()
        self._init_args = (channels, channels)
        self._init_kwargs = {"resolution": resolution, "conv_clamp": 256, "channels_last": False}
        self.resolution = resolution
        self.up = 1
        self.use_noise = True
        self.conv_clamp = None
        self.act_gain = np.float64(np.sqrt(2))
        self.padding = 1
        self.filter_taps = np.array([1.0, 3.0, 3.0, 1.0], dtype=np.float32)
        self.big_endian_counts = np.array([[1, 2], [3, 4]], dtype=">i4")
        self.pair = (np.float32(0.5), [np.int16(3), "x"], {"k": np.float64(2.5)})
        self.hint_dtype = torch.float16
        self.hint_shape = torch.Size([1, 3, 8, 8])
        self.flags = {"a", "b"}
        self.affine = FullyConnectedLayer(8, channels)
        self.weight = torch.nn.Parameter(torch.randn(channels, channels, 3, 3))
        self.noise_strength = torch.nn.Parameter(torch.zeros([]))
        filt = torch.tensor([1.0, 3.0, 3.0, 1.0])
        self.register_buffer("resample_filter", (filt[:, None] * filt[None, :]) / 64)
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.register_buffer("half_buffer", torch.randn(3, 5).to(torch.float16))
        self.register_buffer("bf16_buffer", torch.randn(2, 2).to(torch.bfloat16))
        self.register_buffer("int_buffer", torch.arange(-3, 3, dtype=torch.int64))
        self.register_buffer("bool_buffer", torch.tensor([True, False, True]))
        self.register_buffer("transposed", torch.arange(12.0).reshape(3, 4).t())
        self.register_buffer("offset_view", torch.arange(10.0)[3:7])
        self.register_buffer("scalar_buffer", torch.tensor(1.5, dtype=torch.float64))
        self.register_buffer("empty_buffer", torch.zeros(0, 3))
        self.register_buffer("missing", None)


class SynthesisNetwork(NvidiaStyle, torch.nn.Module):
    def __init__(self):
        super().__init__()
        self._init_kwargs = {"w_dim": 8, "img_resolution": 8, "img_channels": 3}
        self.img_resolution = 8
        self.block_resolutions = [4, 8]
        self.layer0 = SynthesisLayer()
        self.layer1 = SynthesisLayer(resolution=4)


class Generator(NvidiaStyle, torch.nn.Module):
    def __init__(self):
        super().__init__()
        self._init_kwargs = {
            "z_dim": 8,
            "c_dim": 0,
            "w_dim": 8,
            "img_resolution": 8,
            "img_channels": 3,
            "mapping_kwargs": {"num_layers": 2, "lr_multiplier": np.float64(0.01)},
            "synthesis_kwargs": {"channel_base": 16, "conv_clamp": 256},
        }
        self.z_dim, self.c_dim, self.w_dim = 8, 0, 8
        self.img_resolution, self.img_channels = 8, 3
        self.mapping = MappingNetwork()
        self.synthesis = SynthesisNetwork()


class Discriminator(NvidiaStyle, torch.nn.Module):
    def __init__(self):
        super().__init__()
        self._init_kwargs = {"c_dim": 0, "img_resolution": 8}
        self.b8 = FullyConnectedLayer(4, 2)
        self.mbstd_group_size = 4


def _network_dict() -> tuple[dict, Generator]:
    torch.manual_seed(0)
    g = Generator()
    g_ema = copy.deepcopy(g)
    with torch.no_grad():
        g_ema.mapping.fc0.weight.mul_(0.5)
    snapshot = {
        "G": g,
        "D": Discriminator(),
        "G_ema": g_ema,
        "augment_pipe": None,
        "training_set_kwargs": {"path": "datasets/art.zip", "resolution": 8, "xflip": True},
    }
    return snapshot, g_ema


def _assert_same_tensors(expected: dict[str, torch.Tensor], got: dict[str, torch.Tensor]) -> None:
    assert set(got) == set(expected)
    for name, ref in expected.items():
        out = got[name]
        assert type(out) is torch.Tensor, name  # plain tensors, never Parameters
        assert out.dtype == ref.dtype, name
        assert out.shape == ref.shape, name
        assert out.stride() == ref.stride(), name
        assert not out.requires_grad, name
        assert torch.equal(out, ref.detach()), name


def _no_fake_modules_loaded() -> bool:
    return not any(name.split(".")[0] in _FAKE_ROOTS for name in sys.modules)


# --------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("prefix", ["", "mypkg.vendor."])
def test_round_trip(tmp_path: Path, protocol: int, prefix: str) -> None:
    snapshot, g_ema = _network_dict()
    path = tmp_path / "network-snapshot-000000.pkl"
    path.write_bytes(dump_nvidia(snapshot, protocol, prefix))
    assert _no_fake_modules_loaded()

    data = read_nvidia_pickle(path)
    assert _no_fake_modules_loaded()

    assert set(data) == {"G", "D", "G_ema", "augment_pipe", "training_set_kwargs"}
    assert data["augment_pipe"] is None
    assert data["training_set_kwargs"] == {"path": "datasets/art.zip", "resolution": 8, "xflip": True}
    assert isinstance(data["training_set_kwargs"], EasyDict)
    assert data["training_set_kwargs"].resolution == 8

    g = data["G_ema"]
    assert isinstance(g, PersistentModule)
    assert g.class_name == "Generator"
    assert g.module_name.startswith("persistent_src_")
    assert g.submodule("mapping.fc0").module_name == g.module_name  # same source text
    _assert_same_tensors(g_ema.state_dict(), g.state_dict())
    _assert_same_tensors(snapshot["G"].state_dict(), data["G"].state_dict())
    _assert_same_tensors(snapshot["D"].state_dict(), data["D"].state_dict())
    assert data["D"].class_name == "Discriminator"
    assert not torch.equal(g.state_dict()["mapping.fc0.weight"], data["G"].state_dict()["mapping.fc0.weight"])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_attributes_and_constructor_arguments(tmp_path: Path, protocol: int) -> None:
    snapshot, _ = _network_dict()
    path = tmp_path / "net.pkl"
    path.write_bytes(dump_nvidia(snapshot, protocol))
    g = read_nvidia_pickle(str(path))["G_ema"]

    assert g.attrs == {"z_dim": 8, "c_dim": 0, "w_dim": 8, "img_resolution": 8, "img_channels": 3}
    assert g.init_args == ()
    assert isinstance(g.init_kwargs, EasyDict)
    assert g.init_kwargs.mapping_kwargs.num_layers == 2
    assert isinstance(g.init_kwargs["mapping_kwargs"], EasyDict)
    lr = g.init_kwargs["mapping_kwargs"]["lr_multiplier"]
    assert type(lr) is float and lr == 0.01
    assert g.init_kwargs["synthesis_kwargs"] == {"channel_base": 16, "conv_clamp": 256}

    mapping = g.submodule("mapping")
    assert type(mapping.attrs["w_avg_beta"]) is float and mapping.attrs["w_avg_beta"] == 0.995
    assert type(mapping.attrs["num_layers"]) is int and mapping.attrs["num_layers"] == 2
    assert mapping.attrs["features_list"] == (8, 16, 8)
    assert mapping.attrs["embed"] is None
    assert "training" not in mapping.attrs
    assert not any(key.startswith("_") for key in mapping.attrs)
    assert mapping.buffers["c_avg"] is None
    assert "mapping.c_avg" not in g.state_dict()
    assert "mapping.w_avg" in g.state_dict()

    fc0, fc1 = g.submodule("mapping.fc0"), g.submodule("mapping.fc1")
    assert fc0.init_args == (8, 16)
    assert fc0.init_kwargs == {"bias": True, "lr_multiplier": 0.01}
    assert fc0.attrs["weight_gain"] == pytest.approx(0.01 / np.sqrt(8))
    assert type(fc0.attrs["weight_gain"]) is float
    assert fc0.attrs["activation"] == "lrelu"
    assert fc1.parameters["bias"] is None
    assert "mapping.fc1.bias" not in g.state_dict()

    layer = g.submodule("synthesis.layer0")
    assert layer.class_name == "SynthesisLayer"
    assert layer.init_args == (4, 4)
    assert layer.init_kwargs == {"resolution": 8, "conv_clamp": 256, "channels_last": False}
    assert layer.attrs["conv_clamp"] is None
    assert layer.attrs["use_noise"] is True
    assert type(layer.attrs["act_gain"]) is float and layer.attrs["act_gain"] == np.sqrt(2)
    taps = layer.attrs["filter_taps"]
    assert isinstance(taps, np.ndarray) and taps.dtype == np.float32
    np.testing.assert_array_equal(taps, [1.0, 3.0, 3.0, 1.0])
    counts = layer.attrs["big_endian_counts"]
    # numpy itself unpickles this as native int32 below protocol 5, '>i4' at protocol 5
    assert counts.dtype.kind == "i" and counts.dtype.itemsize == 4
    np.testing.assert_array_equal(counts, [[1, 2], [3, 4]])
    assert layer.attrs["pair"] == (0.5, [3, "x"], {"k": 2.5})
    assert type(layer.attrs["pair"][0]) is float and type(layer.attrs["pair"][1][0]) is int
    assert layer.attrs["hint_dtype"] is torch.float16
    assert layer.attrs["hint_shape"] == torch.Size([1, 3, 8, 8])
    assert layer.attrs["flags"] == {"a", "b"}
    assert layer.buffers["missing"] is None
    assert g.submodule("synthesis").attrs["block_resolutions"] == [4, 8]

    named = g.named_attrs()
    assert named[""] is g.attrs
    assert named["synthesis.layer0.affine"]["in_features"] == 8
    assert set(named) == {
        "", "mapping", "mapping.fc0", "mapping.fc1", "synthesis",
        "synthesis.layer0", "synthesis.layer0.affine", "synthesis.layer1", "synthesis.layer1.affine",
    }


def test_submodule_errors_and_repr(tmp_path: Path) -> None:
    snapshot, _ = _network_dict()
    g = read_nvidia_pickle(io.BytesIO(dump_nvidia(snapshot)))["G_ema"]
    assert g.submodule("") is g
    with pytest.raises(KeyError, match="b1024"):
        g.submodule("synthesis.b1024.conv0")
    text = repr(g)
    assert "Generator" in text and len(text) < 300


def test_reads_streams_and_g_only(tmp_path: Path) -> None:
    snapshot, g_ema = _network_dict()
    blob = dump_nvidia({"G": g_ema}, 4)

    class OneWay(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            return self._inner.readinto(buffer)

    for stream in (io.BytesIO(blob), io.BufferedReader(OneWay(blob))):
        data = read_nvidia_pickle(stream)
        _assert_same_tensors(g_ema.state_dict(), data["G"].state_dict())


def test_reading_does_not_touch_numpy_builtin_dtypes() -> None:
    # dtype('f8', align=False, copy=False) is numpy's shared float64 singleton; a BUILD on it
    # would change float64 for the whole process. The stand-in always copies.
    raw = (
        b"\x80\x02}(X\x05\x00\x00\x00G_emaN"
        b"X\x01\x00\x00\x00dcnumpy\ndtype\nX\x02\x00\x00\x00f8\x89\x89\x87R"
        b"(K\x03X\x01\x00\x00\x00>NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tbu."
    )
    with pytest.raises(ModelFormatError):  # G_ema is None: not a network
        read_nvidia_pickle(io.BytesIO(raw))
    assert np.dtype("f8").byteorder == "="
    assert np.dtype("f8").isnative


@pytest.mark.parametrize("spec, elsize", [(b"U2", 3), (b"U2", 1 << 40), (b"S4", 1 << 20)])
def test_a_numpy_dtype_with_a_forged_item_size_is_refused(spec: bytes, elsize: int) -> None:
    raw = (
        b"\x80\x02}(X\x05\x00\x00\x00G_emaN"
        b"X\x01\x00\x00\x00dcnumpy\ndtype\nX\x02\x00\x00\x00" + spec + b"\x89\x88\x87R"
        b"(K\x03X\x01\x00\x00\x00<NNN\x8a\x08" + elsize.to_bytes(8, "little") + b"K\x04K\x08tbu."
    )
    with pytest.raises(ModelFormatError, match="forged item size"):
        read_nvidia_pickle(io.BytesIO(raw))


# --------------------------------------------------------------------------------------------
# Malicious files
# --------------------------------------------------------------------------------------------


def _marker(tmp_path: Path) -> Path:
    return tmp_path / "PWNED"


def _short_str(text: str) -> bytes:
    data = text.encode()
    return b"X" + len(data).to_bytes(4, "little") + data  # BINUNICODE


def raw_global_call(module: str, name: str, arg: str, protocol: int = 2) -> bytes:
    """A pickle that calls module.name(arg), written opcode by opcode."""
    if protocol >= 4:
        head = b"\x80\x04" + _short_str(module) + _short_str(name) + b"\x93"  # STACK_GLOBAL
    else:
        head = b"\x80" + bytes([protocol]) + b"c" + f"{module}\n{name}\n".encode()  # GLOBAL
    return head + _short_str(arg) + b"\x85R."  # TUPLE1 REDUCE STOP


class Call:
    """Pickles as func(*args): what an attacker's __reduce__ does."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _assert_refused(source: Any, marker: Path, names: str | None) -> UnsafeFileError:
    with pytest.raises(UnsafeFileError) as info:
        read_nvidia_pickle(source)
    message = str(info.value)
    assert "refused to load" in message and "nothing from the file was run" in message
    if names:
        assert f"'{names}'" in message
    assert not marker.exists()
    return info.value


@pytest.mark.parametrize("protocol", [2, 4])
def test_refuses_os_system_spelled_by_hand(tmp_path: Path, protocol: int) -> None:
    marker = _marker(tmp_path)
    path = tmp_path / "x.pkl"
    path.write_bytes(raw_global_call("os", "system", f"touch {marker}", protocol))
    error = _assert_refused(path, marker, "os.system")
    assert str(error).startswith("refused to load 'x.pkl': it references the global 'os.system'")


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    "make_call, global_name",
    [
        (lambda m: Call(os.system, f"touch {m}"), "posix.system"),
        (lambda m: Call(eval, f"open({str(m)!r}, 'w').close()"), "builtins.eval"),
        (lambda m: Call(exec, f"open({str(m)!r}, 'w').close()"), "builtins.exec"),
        (lambda m: Call(subprocess.Popen, ["touch", str(m)]), "subprocess.Popen"),
        (lambda m: Call(subprocess.check_output, ["touch", str(m)]), "subprocess.check_output"),
        (lambda m: Call(getattr, "text", "upper"), "builtins.getattr"),
        (lambda m: Call(open, str(m), "w"), "io.open"),
        (lambda m: Call(compile, "1", "f", "eval"), "builtins.compile"),
    ],
)
def test_refuses_dangerous_globals(tmp_path: Path, protocol: int, make_call, global_name: str) -> None:
    if os.name != "posix" and global_name == "posix.system":
        pytest.skip("os.system is posix.system only on POSIX")
    marker = _marker(tmp_path)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": make_call(marker)}, protocol=protocol))
    _assert_refused(path, marker, global_name)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_refuses_payload_deep_inside_a_network(tmp_path: Path, protocol: int) -> None:
    marker = _marker(tmp_path)
    snapshot, g_ema = _network_dict()
    g_ema.synthesis.layer1.affine.innocent_looking = Call(os.system, f"touch {marker}")
    path = tmp_path / "deep.pkl"
    path.write_bytes(dump_nvidia(snapshot, protocol))
    _assert_refused(path, marker, "posix.system")


def test_refuses_payload_in_constructor_kwargs(tmp_path: Path) -> None:
    marker = _marker(tmp_path)
    snapshot, g_ema = _network_dict()
    g_ema.mapping._init_kwargs = {"z_dim": Call(subprocess.Popen, ["touch", str(marker)])}
    path = tmp_path / "kwargs.pkl"
    path.write_bytes(dump_nvidia(snapshot, 4))
    _assert_refused(path, marker, "subprocess.Popen")


class BlobStorage:
    """Pickles like a storage: torch.storage._load_from_bytes(<blob>)."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    def __reduce__(self):
        return (torch.storage._load_from_bytes, (self.blob,))


class BlobTensor:
    """Pickles like a tensor over a BlobStorage."""

    def __init__(self, blob: bytes, numel: int = 2) -> None:
        self.blob, self.numel = blob, numel

    def __reduce__(self):
        return (
            torch._utils._rebuild_tensor_v2,
            (BlobStorage(self.blob), 0, (self.numel,), (1,), False, OrderedDict()),
        )


def _legacy_header() -> bytes:
    sys_info = {"protocol_version": 1001, "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 4}}
    return (pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, protocol=2)
            + pickle.dumps(sys_info, protocol=2))


def _evil_storage_blob(variant: str, marker: Path) -> bytes:
    payload = pickle.dumps(Call(os.system, f"touch {marker}"), protocol=2)
    if variant == "bare payload":
        return payload
    if variant == "payload after a legacy header":
        return _legacy_header() + payload
    # A global that passes the reader's own pre-scan (a 'torch ...Storage' name) but not
    # torch's weights-only loader: exercises the second line of defence.
    return _legacy_header() + b"\x80\x02ctorch\nNotARealStorage\n." + pickle.dumps([], protocol=2)


@pytest.mark.parametrize(
    "variant, global_name",
    [
        ("bare payload", "posix.system"),
        ("payload after a legacy header", "posix.system"),
        ("unknown storage class", "torch.NotARealStorage"),
    ],
)
def test_refuses_payload_hidden_in_a_storage_blob(tmp_path: Path, variant: str, global_name: str) -> None:
    marker = _marker(tmp_path)
    snapshot, g_ema = _network_dict()
    g_ema.mapping.register_buffer("sneaky", None)
    g_ema.mapping._buffers["sneaky"] = BlobTensor(_evil_storage_blob(variant, marker))
    path = tmp_path / "blob.pkl"
    path.write_bytes(dump_nvidia(snapshot, 4))
    error = _assert_refused(path, marker, None)
    assert "storage" in str(error) and global_name in str(error)
    assert "weights_only" not in str(error)  # never advise the unsafe retry


def test_real_storage_blob_loads_with_weights_only() -> None:
    # The premise of the storage stand-in: plain pickling of a tensor stores its storage as
    # torch.storage._load_from_bytes(<legacy torch.save blob>), which
    # torch.load(weights_only=True) accepts.
    tensor = torch.arange(6, dtype=torch.float16).reshape(2, 3)
    rebuild, args = tensor.__reduce_ex__(2)
    assert rebuild is torch._utils._rebuild_tensor_v2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage deprecation notice
        load, (blob,) = args[0].__reduce__()
    assert load is torch.storage._load_from_bytes
    assert not blob.startswith(b"PK")  # the legacy format, not a zip
    storage = torch.load(io.BytesIO(blob), weights_only=True, map_location="cpu")
    assert isinstance(storage, torch.storage.TypedStorage) and storage.dtype == torch.float16


def test_module_source_is_never_executed(tmp_path: Path) -> None:
    marker = _marker(tmp_path)
    snapshot, g_ema = _network_dict()
    g_ema._module_src = f"open({str(marker)!r}, 'w').close()\nimport os\nos.system('touch {marker}')\n"
    path = tmp_path / "src.pkl"
    path.write_bytes(dump_nvidia(snapshot, 4))
    data = read_nvidia_pickle(path)  # the source is inert text: reading succeeds
    assert not marker.exists()
    assert data["G_ema"].class_name == "Generator"
    assert data["G_ema"].module_name != data["G_ema"].submodule("mapping").module_name
    _assert_same_tensors(g_ema.state_dict(), data["G_ema"].state_dict())


@pytest.mark.parametrize("opcode", [b"\x82\x7f", b"\x83\x7f\x00", b"\x84\x7f\x00\x00\x00"])
def test_refuses_extension_codes(tmp_path: Path, opcode: bytes) -> None:
    marker = _marker(tmp_path)
    code = 0x7F
    copyreg.add_extension("posix", "system", code)
    try:
        # Prime copyreg's extension cache: from now on EXT returns os.system to *any*
        # unpickler without asking find_class (true for the C and the Python unpickler).
        assert pickle.loads(b"\x80\x02\x82\x7f.") is os.system
        payload = b"\x80\x02" + opcode + _short_str(f"touch {marker}") + b"\x85R."
        _assert_refused(io.BytesIO(payload), marker, None)
    finally:
        copyreg.remove_extension("posix", "system", code)


@pytest.mark.parametrize("payload", [b"\x80\x02Pabc\n.", b"\x80\x02X\x03\x00\x00\x00abcQ."])
def test_refuses_persistent_ids(payload: bytes) -> None:
    with pytest.raises(UnsafeFileError, match="persistent id"):
        read_nvidia_pickle(io.BytesIO(payload))


def test_refuses_build_on_stand_ins() -> None:
    # BUILD on the EasyDict stand-in class (slot state -> setattr on the class) must not
    # change it for the rest of the process.
    payload = (
        b"\x80\x02cdnnlib.util\nEasyDict\nN}X\x05\x00\x00\x00innerK\x01s\x86b."
    )
    with pytest.raises(UnsafeFileError, match="set the state"):
        read_nvidia_pickle(io.BytesIO(payload))
    assert not hasattr(EasyDict, "inner")
    payload = (
        b"\x80\x02ctorch_utils.persistence\n_reconstruct_persistent_obj\n"
        b"N}X\x0c\x00\x00\x00__defaults__N\x85s\x86b."
    )
    with pytest.raises(UnsafeFileError, match="set the state"):
        read_nvidia_pickle(io.BytesIO(payload))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_refuses_object_arrays(tmp_path: Path, protocol: int) -> None:
    snapshot, g_ema = _network_dict()
    g_ema.mapping.table = np.array([1, "two", None], dtype=object)
    path = tmp_path / "objects.pkl"
    path.write_bytes(dump_nvidia(snapshot, protocol))
    with pytest.raises(UnsafeFileError, match="Python objects"):
        read_nvidia_pickle(path)


_DEEP = 150_000


@pytest.mark.parametrize("payload", [
    # a dict key: EMPTY_TUPLE wrapped 150,000 times by TUPLE1, then SETITEM hashes it
    b"\x80\x02}" + b")" + b"\x85" * _DEEP + b"Ns.",
    # the same through SETITEMS and through the DICT opcode
    b"\x80\x02}(" + b")" + b"\x85" * _DEEP + b"Nu.",
    b"\x80\x02(" + b")" + b"\x85" * _DEEP + b"Nd.",
    # a frozenset member, by opcode (protocol 4) and through builtins.frozenset
    b"\x80\x04(" + b")" + b"\x85" * _DEEP + b"\x91.",
    b"\x80\x02c__builtin__\nfrozenset\n)" + b"\x85" * _DEEP + b"\x85\x85R.",
], ids=["setitem", "setitems", "dict", "frozenset-op", "frozenset-call"])
def test_a_deeply_nested_key_is_refused_not_a_crash(tmp_path: Path, payload: bytes) -> None:
    """Hashing such a key recurses in C with no limit: the process used to die (SIGSEGV)."""
    path = tmp_path / "deep.pkl"
    path.write_bytes(payload)
    message = refusal_in_a_child("studio.gan.formats.nvidia_pickle", "read_nvidia_pickle", path)
    assert "nested too deeply or too large" in message


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_billion_laughs_in_an_attribute_stays_small(tmp_path: Path, protocol: int) -> None:
    """Ten levels of lists that each repeat the one below ten times: 10**10 items once
    expanded, a few hundred bytes in the file. Reading keeps them shared."""
    snapshot, g_ema = _network_dict()
    laughs: list = ["ha"] * 10
    for _ in range(9):
        laughs = [laughs] * 10
    g_ema.mapping.laughs = laughs
    path = tmp_path / "laughs.pkl"
    path.write_bytes(dump_nvidia(snapshot, protocol))
    assert path.stat().st_size < 200_000
    data = read_nvidia_pickle(path)
    read = data["G_ema"].submodule("mapping").attrs["laughs"]
    assert read[0] is read[1] and read[0][0][0][0][0][0][0][0][0] == ["ha"] * 10


def test_refuses_plain_torch_modules(tmp_path: Path) -> None:
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"G_ema": torch.nn.Linear(2, 2)}, protocol=4))
    _assert_refused(path, _marker(tmp_path), "torch.nn.modules.linear.Linear")


def test_tensorflow_pickles_get_their_own_message() -> None:
    payload = b"\x80\x02cdnnlib.tflib.network\nNetwork\n)\x81."
    with pytest.raises(ModelFormatError, match="TensorFlow") as info:
        read_nvidia_pickle(io.BytesIO(payload))
    assert type(info.value) is ModelFormatError


def test_tensor_past_end_of_storage(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage deprecation notice
        blob = torch.zeros(2).storage().__reduce__()[1][0]
    snapshot, g_ema = _network_dict()
    g_ema.mapping._buffers["w_avg"] = BlobTensor(blob, numel=1000)
    path = tmp_path / "oob.pkl"
    path.write_bytes(dump_nvidia(snapshot, 4))
    with pytest.raises(ModelFormatError, match="past the end of its storage"):
        read_nvidia_pickle(path)


# --------------------------------------------------------------------------------------------
# Files that are not network pickles
# --------------------------------------------------------------------------------------------


def _format_error(path: Path) -> str:
    with pytest.raises(ModelFormatError) as info:
        read_nvidia_pickle(path)
    assert not isinstance(info.value, UnsafeFileError)
    message = str(info.value)
    assert f"'{path.name}'" in message
    assert "\n" not in message
    return message


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.pkl"
    path.write_bytes(b"")
    assert "is empty" in _format_error(path)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_truncated_file(tmp_path: Path, protocol: int) -> None:
    snapshot, _ = _network_dict()
    blob = dump_nvidia(snapshot, protocol)
    path = tmp_path / "cut.pkl"
    rng = random.Random(protocol)
    for cut in [len(blob) // 2, len(blob) - 1, 3] + [rng.randrange(2, len(blob)) for _ in range(6)]:
        path.write_bytes(blob[:cut])
        assert "truncated" in _format_error(path), cut


def test_random_bytes(tmp_path: Path) -> None:
    rng = random.Random(1234)
    path = tmp_path / "noise.pkl"
    path.write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    assert "not an NVIDIA network pickle" in _format_error(path)
    for seed in range(20):  # random bytes behind a valid pickle header
        rng = random.Random(seed)
        path.write_bytes(b"\x80\x04" + bytes(rng.randrange(256) for _ in range(512)))
        with pytest.raises(ModelFormatError):  # UnsafeFileError too if the noise names a global
            read_nvidia_pickle(path)


def test_json_file(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_text(json.dumps({"G_ema": [1, 2, 3]}))
    message = _format_error(path)
    assert "JSON" in message and "not an NVIDIA network pickle" in message


def test_pickle_of_a_list(tmp_path: Path) -> None:
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3], protocol=4))
    message = _format_error(path)
    assert "top level is list" in message


def test_pickle_of_a_bare_network(tmp_path: Path) -> None:
    path = tmp_path / "bare.pkl"
    path.write_bytes(dump_nvidia(Generator(), 4))
    assert "top level is a network object" in _format_error(path)


def test_dict_without_generator(tmp_path: Path) -> None:
    path = tmp_path / "nog.pkl"
    path.write_bytes(dump_nvidia({"D": Discriminator(), "augment_pipe": None}, 4))
    message = _format_error(path)
    assert "no 'G_ema' or 'G'" in message and "'D'" in message
    path.write_bytes(pickle.dumps({"G_ema": "not a network"}, protocol=4))
    assert "'G_ema' entry is str" in _format_error(path)


def test_zip_file(tmp_path: Path) -> None:
    path = tmp_path / "550000.pt"
    torch.save({"g_ema": {"w": torch.zeros(2)}}, path)
    assert zipfile.is_zipfile(path)
    message = _format_error(path)
    assert "zip" in message and "not an NVIDIA network pickle" in message


def test_protocol_0_and_future_protocols(tmp_path: Path) -> None:
    path = tmp_path / "old.pkl"
    path.write_bytes(pickle.dumps({"G_ema": 1}, protocol=0))
    assert "not an NVIDIA network pickle" in _format_error(path)
    path.write_bytes(b"\x80\x09garbage")
    assert "protocol 9" in _format_error(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="could not be read"):
        read_nvidia_pickle(tmp_path / "nope.pkl")
