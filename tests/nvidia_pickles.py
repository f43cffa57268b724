"""Build files that pickle exactly like NVIDIA's StyleGAN2-ADA network pickles.

Fake ``torch_utils.persistence`` and ``dnnlib.util`` modules exist in ``sys.modules`` only while
pickling (so that ``pickle`` can name them) and are removed before anything is read, so a
reader under test cannot resolve anything real.
"""

from __future__ import annotations

import pickle
import sys
import types
from collections import OrderedDict
from typing import Any, Mapping

import torch

FAKE_SOURCE = "# stand-in for NVIDIA's networks.py; the reader must never run this text\n"
BUFFER_NAMES = {"resample_filter", "noise_const", "w_avg",                          # StyleGAN2-ADA
                "magnitude_ema", "up_filter", "down_filter", "transform", "freqs", "phases"}  # StyleGAN3


_ACTIVE: dict[str, Any] = {}


def _install_fake_nvidia(prefix: str) -> list[str]:
    """Fake modules that pickle names exactly like NVIDIA's; returns their names."""
    names: list[str] = []

    def module(name: str) -> types.ModuleType:
        mod = types.ModuleType(name)
        sys.modules[name] = mod
        names.append(name)
        return mod

    parts = prefix.rstrip(".").split(".") if prefix else []
    for i in range(len(parts)):
        module(".".join(parts[: i + 1]))
    module(prefix + "torch_utils")
    persistence = module(prefix + "torch_utils.persistence")
    module(prefix + "dnnlib")
    util = module(prefix + "dnnlib.util")

    def _reconstruct_persistent_obj(meta):  # never called: the reader must not resolve it
        raise AssertionError("the real reconstructor was called")

    _reconstruct_persistent_obj.__module__ = persistence.__name__
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj

    class FakeEasyDict(dict):
        def __getattr__(self, name):
            try:
                return self[name]
            except KeyError:
                raise AttributeError(name) from None

        def __setattr__(self, name, value):
            self[name] = value

    FakeEasyDict.__name__ = FakeEasyDict.__qualname__ = "EasyDict"
    FakeEasyDict.__module__ = util.__name__
    util.EasyDict = FakeEasyDict
    _ACTIVE["reconstruct"] = _reconstruct_persistent_obj
    _ACTIVE["EasyDict"] = FakeEasyDict
    return names


def _remove_fake_nvidia(names: list[str]) -> None:
    for name in names:
        sys.modules.pop(name, None)
    _ACTIVE.clear()


def _easy(value: Any) -> Any:
    """Plain dicts -> the fake dnnlib.util.EasyDict (recursively), as NVIDIA stores kwargs."""
    if isinstance(value, dict):
        return _ACTIVE["EasyDict"]({k: _easy(v) for k, v in value.items()})
    return value


def dump_nvidia(obj: Any, protocol: int = 4, prefix: str = "") -> bytes:
    """Pickle like NVIDIA's training loop: plain pickle.dump, persistent modules via the
    fake reconstructor. The fake modules exist only during the dump."""
    names = _install_fake_nvidia(prefix)
    try:
        return pickle.dumps(_easy_top(obj), protocol=protocol)
    finally:
        _remove_fake_nvidia(names)


def _easy_top(obj: Any) -> Any:
    if isinstance(obj, dict) and not isinstance(obj, OrderedDict):
        return {k: (_easy(v) if isinstance(v, dict) else v) for k, v in obj.items()}
    return obj


class NvidiaStyle:
    """Mixin: pickles like a module decorated with NVIDIA's @persistence.persistent_class."""

    def __reduce_ex__(self, protocol):
        if "reconstruct" not in _ACTIVE:  # copy.deepcopy outside dump_nvidia
            return super().__reduce_ex__(protocol)
        state = {k: v for k, v in self.__dict__.items() if k != "_class_name"}
        state["_init_args"] = tuple(getattr(self, "_init_args", ()))
        state["_init_kwargs"] = _easy(dict(getattr(self, "_init_kwargs", {})))
        meta = dict(
            type="class",
            version=6,
            module_src=getattr(self, "_module_src", FAKE_SOURCE),
            class_name=getattr(self, "_class_name", type(self).__name__),
            state=state,
        )
        return (_ACTIVE["reconstruct"], (meta,))




class PersistentProxy(NvidiaStyle):
    """A stand-in module with a given class name, tensors, children and attributes."""

    def __init__(self, class_name: str, attrs: Mapping[str, Any]):
        self.__dict__.update(attrs)
        self._class_name = class_name
        self.training = False
        self._parameters: OrderedDict = OrderedDict()
        self._buffers: OrderedDict = OrderedDict()
        self._modules: OrderedDict = OrderedDict()


def network_from_state(class_name: str, state: Mapping[str, torch.Tensor],
                       attrs: Mapping[str, Mapping[str, Any]], init_kwargs: Mapping[str, Any] | None = None):
    """A persistent-module tree for a flat state dict and per-module attributes ('' = root)."""
    paths = set(attrs) | {name.rpartition(".")[0] for name in state}
    for path in list(paths):  # every ancestor exists too
        while path:
            path = path.rpartition(".")[0]
            paths.add(path)
    nodes = {path: PersistentProxy(path.rpartition(".")[2] or class_name, attrs.get(path, {})) for path in paths}
    nodes[""]._init_kwargs = dict(init_kwargs or {})
    for path in sorted(paths, key=lambda p: (p.count("."), p)):
        if path:
            parent, _, child = path.rpartition(".")
            nodes[parent]._modules[child] = nodes[path]
    for name, tensor in state.items():
        path, _, leaf = name.rpartition(".")
        if leaf in BUFFER_NAMES:
            nodes[path]._buffers[leaf] = tensor.clone()
        else:
            nodes[path]._parameters[leaf] = torch.nn.Parameter(tensor.clone(), requires_grad=False)
    return nodes[""]


def write_pickle(case, path, protocol=4, *, discriminator=None):
    """A golden case (G, D and their attributes) written as NVIDIA's training loop pickles a snapshot.

    A case without a discriminator (the StyleGAN3 ones) gets ``discriminator`` (a studio
    Discriminator, pickled as NVIDIA's StyleGAN2 one is), or none."""
    G = network_from_state("Generator", case.group("G"), case.meta["generator_attrs"], case.meta["generator_kwargs"])
    if "discriminator_attrs" in case.meta:
        D = network_from_state("Discriminator", case.group("D"), case.meta["discriminator_attrs"],
                               case.meta["discriminator_kwargs"])
    elif discriminator is not None:
        cfg = discriminator.config
        D = network_from_state("Discriminator", discriminator.state_dict(),
                               {"": {"c_dim": cfg.c_dim, "img_resolution": cfg.img_resolution,
                                     "img_channels": cfg.img_channels}},
                               {"c_dim": cfg.c_dim, "img_resolution": cfg.img_resolution,
                                "img_channels": cfg.img_channels, "architecture": cfg.architecture})
    else:
        D = None
    data = {"G": G, "D": D, "G_ema": G, "augment_pipe": None,
            "training_set_kwargs": {"path": "datasets/paintings.zip", "resolution": 32, "use_labels": False}}
    path.write_bytes(dump_nvidia(data, protocol=protocol))
    return path


def refusal_in_a_child(module: str, function: str, path) -> str:
    """Call ``module.function(path)`` in a fresh interpreter and return the StudioError it
    raised. Hostile files that once crashed the process run there, so a regression fails
    this test (with the child's exit code) instead of killing the test run."""
    import subprocess
    import sys

    code = (f"import sys; from {module} import {function}\n"
            "from studio.core.errors import StudioError\n"
            f"try:\n    {function}(sys.argv[1])\nexcept StudioError as exc:\n    print(exc)")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"exit code {result.returncode}: {result.stderr[-500:]}"
    assert result.stdout.strip(), "the file was accepted"
    return result.stdout


# -- TensorFlow-era pickles ----------------------------------------------------------------------

TF_SOURCE = 'raise SystemExit("the reader ran build_module_src")\n'


def tf_state(net) -> dict:
    """A read-back :class:`~studio.gan.formats.nvidia_pickle.TFNetwork` as the state dict its pickle holds."""
    return {"version": net.version, "name": net.name, "static_kwargs": dict(net.static_kwargs),
            "components": {k: tf_state(c) for k, c in net.components.items()},
            "build_module_src": TF_SOURCE, "build_func_name": net.build_func_name,
            "variables": list(net.variables.items())}


def dump_tf(G: dict, D: dict, Gs: dict, protocol: int = 2) -> bytes:
    """Pickle (G, D, Gs) network states as NVIDIA's TensorFlow code did: ``dnnlib.tflib.network.Network``
    objects whose ``__setstate__`` receives each state. The fake module exists only during the dump."""
    names = []
    for name in ("dnnlib", "dnnlib.tflib", "dnnlib.tflib.network"):
        sys.modules[name] = types.ModuleType(name)
        names.append(name)

    class Network:
        def __init__(self, state):
            self.state = state

        def __reduce__(self):
            return (Network, (), self.state)

    Network.__module__ = "dnnlib.tflib.network"
    Network.__qualname__ = "Network"
    sys.modules["dnnlib.tflib.network"].Network = Network

    def wrap(state):
        state = dict(state)
        state["components"] = {k: wrap(c) for k, c in state["components"].items()}
        return Network(state)

    try:
        return pickle.dumps((wrap(G), wrap(D), wrap(Gs)), protocol=protocol)
    finally:
        for name in names:
            sys.modules.pop(name, None)
