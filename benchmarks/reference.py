"""NVIDIA's reference networks, imported from a checkout the user gives (``--reference PATH``).

A checkout of github.com/NVlabs/stylegan3 (which also holds StyleGAN2-ADA's networks) or
github.com/NVlabs/stylegan2-ada-pytorch; it is never part of this project. Only its CPU path
runs here (the reference implementations of its custom ops). ``pkg_resources`` is stood in for:
the checkout uses only its ``parse_version``.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path


def reference_module(path: str, name: str):
    """``training.<name>`` (networks_stylegan2 / networks_stylegan3) from the checkout at ``path``."""
    from packaging.version import Version

    if "pkg_resources" not in sys.modules:
        stand_in = types.ModuleType("pkg_resources")
        stand_in.parse_version = Version
        sys.modules["pkg_resources"] = stand_in
    root = str(Path(path).resolve())
    if not (Path(root) / "training" / f"{name}.py").is_file():
        raise SystemExit(f"--reference {path}: no training/{name}.py there (give a checkout of NVlabs/stylegan3)")
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module(f"training.{name}")


def stylegan2_pair(config: dict, reference: str | None):
    """(studio G, NVIDIA G or None) of a StyleGAN2 ``config`` (GeneratorConfig fields) with the same
    weights: NVIDIA's random initialisation, read into the studio's network by the pickle loader's
    own tensor mapping."""
    import torch

    from studio.gan.networks import GeneratorConfig, make_generator

    torch.manual_seed(0)
    ours = make_generator(GeneratorConfig(**config)).eval().requires_grad_(False)
    if not reference:
        return ours, None
    from studio.gan.formats.nvidia import load_state

    nv = reference_module(reference, "networks_stylegan2")
    ref = nv.Generator(z_dim=config["z_dim"], c_dim=0, w_dim=config["w_dim"], img_resolution=config["img_resolution"],
                       img_channels=3, mapping_kwargs=dict(num_layers=config["mapping_layers"]),
                       channel_base=config["channel_base"], channel_max=config["channel_max"],
                       num_fp16_res=4, conv_clamp=config["conv_clamp"]).eval().requires_grad_(False)
    load_state(ours, ref.state_dict(), "generator")
    return ours, ref
