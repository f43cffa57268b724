"""GAN Art Studio: a desktop studio for style-based GANs."""

__version__ = "0.1.0"
