"""Generator and discriminator architectures, in plain PyTorch."""

from __future__ import annotations

from studio.engine.networks.stylegan2 import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from studio.engine.networks.swagan import SwaganGenerator

GENERATOR_KINDS = {"stylegan2": Generator, "swagan": SwaganGenerator}


def make_generator(config: GeneratorConfig) -> Generator:
    """An untrained generator of the architecture ``config.kind`` names."""
    try:
        cls = GENERATOR_KINDS[config.kind]
    except KeyError:
        raise ValueError(f"unknown generator kind {config.kind!r}; known: {sorted(GENERATOR_KINDS)}") from None
    return cls(config)


__all__ = ["Discriminator", "DiscriminatorConfig", "Generator", "GeneratorConfig", "make_generator", "GENERATOR_KINDS"]
