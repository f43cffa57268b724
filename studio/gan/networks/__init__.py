"""Generator and discriminator architectures, in plain PyTorch."""

from __future__ import annotations

from typing import Any

from studio.gan.networks.dcgan import DcganDiscriminator, DcganDiscriminatorConfig, DcganGenerator
from studio.gan.networks.stylegan2 import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from studio.gan.networks.stylegan3 import Stylegan3Config, Stylegan3Generator
from studio.gan.networks.swagan import SwaganGenerator

GENERATOR_KINDS = {"stylegan2": Generator, "swagan": SwaganGenerator, "dcgan": DcganGenerator,
                   "stylegan3": Stylegan3Generator}
#: generator kind -> its config class (the others share StyleGAN2's)
GENERATOR_CONFIGS = {"stylegan3": Stylegan3Config}
#: discriminator kind -> (config class, network class); a stored config without "kind" is StyleGAN2's
DISCRIMINATOR_KINDS = {"stylegan2": (DiscriminatorConfig, Discriminator),
                       "dcgan": (DcganDiscriminatorConfig, DcganDiscriminator)}


def make_generator(config: GeneratorConfig) -> Generator:
    """An untrained generator of the architecture ``config.kind`` names."""
    try:
        cls = GENERATOR_KINDS[config.kind]
    except KeyError:
        raise ValueError(f"unknown generator kind {config.kind!r}; known: {sorted(GENERATOR_KINDS)}") from None
    return cls(config)


def generator_config_from_dict(d: dict[str, Any]):
    """The generator config stored as JSON: its ``"kind"`` picks the class (none = StyleGAN2)."""
    if not isinstance(d, dict):
        raise ValueError(f"the generator config is {type(d).__name__}, not an object")
    kind = d.get("kind", "stylegan2")
    if kind not in GENERATOR_KINDS:
        raise ValueError(f"unknown generator kind {kind!r}; known: {sorted(GENERATOR_KINDS)}")
    return GENERATOR_CONFIGS.get(kind, GeneratorConfig).from_dict(d)


def discriminator_config_from_dict(d: dict[str, Any]):
    """The discriminator config stored as JSON: its ``"kind"`` picks the class (none = StyleGAN2)."""
    kind = d.get("kind", "stylegan2")
    try:
        config_cls, _ = DISCRIMINATOR_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown discriminator kind {kind!r}; known: {sorted(DISCRIMINATOR_KINDS)}") from None
    if config_cls is DiscriminatorConfig:
        d = {k: v for k, v in d.items() if k != "kind"}
    return config_cls.from_dict(d)


def make_discriminator(config) -> Discriminator:
    """An untrained discriminator for a config object (either kind) or its stored dict."""
    if isinstance(config, dict):
        config = discriminator_config_from_dict(config)
    kind = getattr(config, "kind", "stylegan2")
    return DISCRIMINATOR_KINDS[kind][1](config)


__all__ = ["Discriminator", "DiscriminatorConfig", "Generator", "GeneratorConfig", "make_generator", "GENERATOR_KINDS",
           "Stylegan3Config", "Stylegan3Generator", "GENERATOR_CONFIGS", "generator_config_from_dict",
           "DcganGenerator", "DcganDiscriminator", "DcganDiscriminatorConfig", "DISCRIMINATOR_KINDS",
           "discriminator_config_from_dict", "make_discriminator"]
