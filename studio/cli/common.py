"""Pieces every studio subcommand shares: errors, progress bars, opening a network, render options."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from studio.engine.render import RenderSettings

EXIT_USAGE = 2


class CliError(Exception):
    """A problem with the command line or its inputs, reported as one line."""


# --------------------------------------------------------------------------------------------
# Helpers


def progress_bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="img", file=sys.stderr, dynamic_ncols=True,
                disable=None)  # None: off when stderr is not a terminal


def open_renderer(args: argparse.Namespace):
    from studio.engine.formats import load_network
    from studio.engine.render import Renderer, pick_device

    device = pick_device(args.device)
    network = load_network(args.network, device=device, with_discriminator=False)
    return Renderer(network, device=device, batch_size=args.batch)


def render_settings(args: argparse.Namespace, renderer) -> RenderSettings:
    from studio.engine.render import RenderSettings

    G = renderer.G
    if args.class_index is not None and G.c_dim == 0:
        print(f"note: {renderer.network.name} is unconditional; --class is ignored", file=sys.stderr)
    if G.c_dim > 0 and args.class_index is None:
        raise CliError(f"{renderer.network.name} is conditional: choose a class with --class 0-{G.c_dim - 1}")
    if args.class_index is not None and G.c_dim and not 0 <= args.class_index < G.c_dim:
        raise CliError(f"--class must be in 0-{G.c_dim - 1} for this model")
    if args.trunc_cutoff is not None and not 0 <= args.trunc_cutoff <= G.num_ws:
        raise CliError(f"--trunc-cutoff must be in 0-{G.num_ws} for this model")
    return RenderSettings(
        truncation_psi=args.trunc,
        truncation_cutoff=args.trunc_cutoff,
        class_index=args.class_index if G.c_dim else None,
        noise_mode=args.noise_mode,
    )


def output_dir(path: str) -> Path:
    out = Path(path).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None
    return out


def save_png(path: Path, image, recipe) -> None:
    from studio.engine.recipe import write_png_with_recipe

    try:
        write_png_with_recipe(path, image, recipe)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------------------------
# Commands


def add_render_options(p: argparse.ArgumentParser, with_network: bool = True) -> None:
    if with_network:
        p.add_argument("--network", required=True, metavar="PATH",
                       help="network file: NVIDIA .pkl, rosinality .pt or studio .safetensors")
    p.add_argument("--trunc", type=float, default=1.0, metavar="PSI",
                   help="truncation psi: 1 = full variety, 0.5-0.7 = safer images, 1.5 = wilder (default 1)")
    p.add_argument("--trunc-cutoff", type=int, default=None, metavar="N",
                   help="truncate only the first N w layers (default: all)")
    p.add_argument("--class", dest="class_index", type=int, default=None, metavar="K",
                   help="class label for conditional models")
    p.add_argument("--noise-mode", choices=("const", "random", "none"), default="const",
                   help="per-pixel noise: the network's stored noise (default), fresh noise seeded by the image's seed, or none")
    p.add_argument("--batch", type=int, default=None, metavar="N", help="images per batch (default: 4 on CPU, 8 on GPU)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")


def add_clip_options(p: argparse.ArgumentParser, purpose: str = "scores the images") -> None:
    """--clip / --clip-config, named the same way on every command that uses CLIP."""
    p.add_argument("--clip", default=None, metavar="SPEC",
                   help=f"the CLIP that {purpose}: default, an open_clip NAME:TAG (e.g. ViT-B-32:laion2b_s34b_b79k) "
                        "or a checkpoint file or folder (default: the 'clip' setting)")
    p.add_argument("--clip-config", default=None, metavar="JSON|NAME",
                   help="the checkpoint's architecture: an open_clip config JSON or model name such as ViT-B-32")


def add_prompt_options(p: argparse.ArgumentParser, example: str) -> None:
    """--prompt, --negative and --negative-weight (rank and evolve)."""
    p.add_argument("--prompt", required=True, help=f'what the images should show, e.g. "{example}"')
    p.add_argument("--negative", default=None, metavar="TEXT", help="a prompt to steer away from (its score is subtracted)")
    p.add_argument("--negative-weight", type=float, default=1.0, metavar="W",
                   help="how much the negative prompt counts (default 1)")


def clip_choice(args: argparse.Namespace) -> tuple[str, str | None]:
    """(spec, config) from --clip / --clip-config, falling back to the settings' remembered CLIP."""
    from studio.settings import load_settings

    if args.clip is not None:
        return args.clip, args.clip_config
    settings = load_settings()
    return settings.clip, args.clip_config if args.clip_config is not None else settings.clip_config

