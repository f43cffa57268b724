"""Shared fixtures: the golden reference data and an isolated studio home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_DIR = ROOT.parent / "shared" / "golden"


@pytest.fixture(autouse=True)
def studio_home(tmp_path_factory, monkeypatch):
    """Every test gets its own user folders: nothing touches the real config or library."""
    home = tmp_path_factory.mktemp("studio_home")
    monkeypatch.setenv("STUDIO_HOME", str(home))
    return home


class GoldenCase:
    """One case of ../shared/golden: its JSON description and tensors."""

    def __init__(self, name: str):
        from safetensors.torch import load_file

        self.name = name
        self.meta = json.loads((GOLDEN_DIR / f"{name}.json").read_text())
        self.tensors = load_file(str(GOLDEN_DIR / f"{name}.safetensors"))

    def group(self, prefix: str) -> dict:
        """Tensors under ``prefix.`` with the prefix removed."""
        n = len(prefix) + 1
        return {k[n:]: v for k, v in self.tensors.items() if k.startswith(prefix + ".")}

    def __getitem__(self, key: str):
        return self.tensors[key]


@pytest.fixture(scope="session")
def golden():
    if not GOLDEN_DIR.is_dir():
        pytest.fail(f"golden reference data not found at {GOLDEN_DIR} (it sits in ../shared beside the project)")
    cache: dict[str, GoldenCase] = {}

    def get(name: str) -> GoldenCase:
        if name not in cache:
            cache[name] = GoldenCase(name)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def tiny_model(golden, tmp_path_factory):
    """A 64 px StyleGAN2 (rosinality layout) with strong noise, as a .pt file."""
    return write_tiny_model(tmp_path_factory.mktemp("models") / "tiny.pt", golden("rosinality_sg2_64"))


@pytest.fixture(scope="session")
def tiny_swagan_model(golden, tmp_path_factory):
    """A 64 px SWAGAN (rosinality layout), as a .pt file."""
    return write_tiny_model(tmp_path_factory.mktemp("models") / "tiny-swagan.pt", golden("rosinality_swagan_64"))


def write_tiny_model(path: Path, case: GoldenCase | None = None) -> Path:
    """A golden 64 px rosinality network (StyleGAN2 unless ``case`` says) saved as a ``.pt`` at ``path``
    (for scripts too)."""
    import torch

    case = case or GoldenCase("rosinality_sg2_64")
    torch.save({"g_ema": case.group("g_ema"), "latent_avg": case["in.truncation_latent"][0]}, path)
    return path


@pytest.fixture(scope="session")
def tiny_conditional_model(golden, tmp_path_factory):
    """A 64 px conditional StyleGAN2-ADA (with its discriminator), as a studio .safetensors file."""
    from studio.gan.formats.native import save_native
    from studio.gan.formats.nvidia import build_discriminator, build_generator

    case = golden("sg2ada_resnet64_cond")
    path = tmp_path_factory.mktemp("models") / "tiny-cond.safetensors"
    save_native(path, build_generator(case.meta["generator_attrs"], case.group("G")),
                build_discriminator(case.meta["discriminator_attrs"], case.group("D")))
    return path


@pytest.fixture(scope="session")
def sg3_model(golden, tmp_path_factory):
    """The golden 64 px StyleGAN3-T as an NVIDIA pickle, with a (random) StyleGAN2 discriminator as
    NVIDIA's StyleGAN3 training loop pickles one."""
    import torch

    from studio.gan.networks import Discriminator, DiscriminatorConfig
    from tests.nvidia_pickles import write_pickle

    torch.manual_seed(0)
    D = Discriminator(DiscriminatorConfig(img_resolution=64, channel_base=1024, channel_max=32))
    return write_pickle(golden("sg3t_64"), tmp_path_factory.mktemp("models") / "sg3t-64.pkl", discriminator=D)
