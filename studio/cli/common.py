"""Pieces every studio subcommand shares: errors, progress bars, opening a network, render options."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from studio.gan.render_settings import RenderSettings

EXIT_USAGE = 2
#: The command was right but the machine said no (a read-only or full disk, a missing folder).
EXIT_FAILURE = 1


class CliError(Exception):
    """A problem with the command line or its inputs, reported as one line."""


# --------------------------------------------------------------------------------------------
# Helpers


def progress_bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="img", file=sys.stderr, dynamic_ncols=True,
                disable=None)  # None: off when stderr is not a terminal


def network_file(source: str) -> str:
    """The local file a network argument means: a URL is downloaded into the model cache (or taken
    from it) with a byte progress bar, and a warning about it goes to stderr; anything else is as given."""
    from studio.hub.download import is_url

    if not is_url(str(source)):
        return source
    from tqdm import tqdm

    from studio.app.models import open_source

    bar = tqdm(desc="download", unit="B", unit_scale=True, file=sys.stderr, dynamic_ncols=True, disable=None)

    def progress(done: int, total: int | None) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        return str(open_source(source, progress=progress, warn=lambda message: print(f"warning: {message}",
                                                                                    file=sys.stderr)))
    finally:
        bar.close()


def open_renderer(args: argparse.Namespace):
    from studio.core.device import pick_device
    from studio.gan.formats import load_network
    from studio.gan.render import Renderer

    device = pick_device(args.device)
    network = load_network(network_file(args.network), device=device, with_discriminator=False)
    return Renderer(network, device=device, batch_size=args.batch, backend=getattr(args, "backend", "torch"),
                    precision=getattr(args, "precision", "auto"))


def class_index(value: str | int | None, network) -> int | None:
    """The class a ``--class`` value means for ``network``: an index or one of its class names.

    A conditional network without a class renders class 0 (with a note saying how to choose);
    raises CliError for a value the network does not have.
    """
    G, names = network.G, network.class_names
    listing = f"0-{G.c_dim - 1}" + (" (" + ", ".join(f"{k} {name}" for k, name in enumerate(names)) + ")"
                                    if names else "")
    if value is None:
        if G.c_dim:
            print(f"note: {network.name} is conditional; rendering class 0{' (' + names[0] + ')' if names else ''}"
                  f" -- choose another with --class {listing}", file=sys.stderr)
            return 0
        return None
    if G.c_dim == 0:
        print(f"note: {network.name} is unconditional; --class is ignored", file=sys.stderr)
        return None
    text = str(value).strip()
    try:
        k = int(text)
    except ValueError:
        k = None
    if k is not None:
        if not 0 <= k < G.c_dim:
            raise CliError(f"--class must be in {listing} for this model")
        return k
    lowered = [name.lower() for name in names]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    raise CliError(f"{network.name} has no class {text!r}; choose one of {listing}")


def render_settings(args: argparse.Namespace, renderer) -> RenderSettings:
    from studio.gan.render_settings import RenderSettings

    G = renderer.G
    k = class_index(args.class_index, renderer.network)
    if args.trunc_cutoff is not None and not 0 <= args.trunc_cutoff <= G.num_ws:
        raise CliError(f"--trunc-cutoff must be in 0-{G.num_ws} for this model")
    translate, rotate = tuple(getattr(args, "translate", (0.0, 0.0))), getattr(args, "rotate", 0.0)
    if (rotate or any(translate)) and not renderer.has_view:
        raise CliError("--translate and --rotate move a StyleGAN3 network's view; "
                       f"{renderer.network.name} is a {renderer.network.kind} network")
    settings = RenderSettings(
        truncation_psi=args.trunc,
        truncation_cutoff=args.trunc_cutoff,
        class_index=k,
        noise_mode=args.noise_mode,
        translate=translate,
        rotate=rotate,
        tile=bool(getattr(args, "tile", False)),
        canvas=_canvas(getattr(args, "canvas", None)),
    )
    try:
        renderer.check_canvas(settings)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return settings


def _canvas(text: str | None):
    if text is None:
        return None
    from studio.gan.render_settings import canvas_units

    try:
        units = canvas_units(text)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return None if units == (4, 4) else units


def output_dir(path: str) -> Path:
    out = Path(path).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None
    return out


def save_png(path: Path, image, recipe) -> None:
    from studio.imaging import metadata

    try:
        metadata.save_png(path, image, recipe)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------------------------
# Commands


def add_render_options(p: argparse.ArgumentParser, with_network: bool = True) -> None:
    if with_network:
        p.add_argument("--network", default="default", metavar="PATH",
                       help="network file or http(s) URL: NVIDIA .pkl, rosinality .pt or studio .safetensors; "
                            "default (the default): the bundled abstract-painting generator")
    p.add_argument("--trunc", type=float, default=1.0, metavar="PSI",
                   help="truncation psi: 1 = full variety, 0.5-0.7 = safer images, 1.5 = wilder (default 1)")
    p.add_argument("--trunc-cutoff", type=int, default=None, metavar="N",
                   help="truncate only the first N w layers (default: all)")
    p.add_argument("--class", dest="class_index", default=None, metavar="K|NAME",
                   help="class of a conditional model, by number or name (the default model's: geometric, "
                        "grid, colour field, gestural, radial, biomorphic)")
    p.add_argument("--noise-mode", choices=("const", "random", "none"), default="const",
                   help="per-pixel noise: the network's stored noise (default), fresh noise seeded by the image's seed, or none")
    p.add_argument("--translate", type=translation, default=(0.0, 0.0), metavar="X,Y",
                   help="StyleGAN3: move the view by X,Y (the input's coordinates, as NVIDIA's gen_images.py)")
    p.add_argument("--rotate", type=finite_float, default=0.0, metavar="DEG",
                   help="StyleGAN3: turn the view by DEG degrees")
    p.add_argument("--canvas", default=None, metavar="RATIO",
                   help="render natively at another aspect ratio, e.g. 16:9, 4:5 or 1.27: the network's input is "
                        "widened, nothing is stretched or cropped (StyleGAN2, SWAGAN and StyleGAN3 networks)")
    p.add_argument("--tile", action="store_true",
                   help="render seamless tiles: every picture is one period of a texture that repeats without a seam "
                        "(StyleGAN2 and SWAGAN networks)")
    p.add_argument("--batch", type=int, default=None, metavar="N", help="images per batch (default: 4 on CPU, 8 on GPU)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    p.add_argument("--precision", choices=("auto", "fp32", "fp16"), default="auto",
                   help="auto (default): float16 in the four highest-resolution blocks on a GPU, as NVIDIA's networks "
                        "compute, float32 on a CPU; fp32 / fp16 to choose")
    p.add_argument("--backend", choices=("torch", "onnx", "auto"), default="torch",
                   help="what renders: PyTorch (default), ONNX Runtime (its CUDA provider with onnxruntime-gpu; the "
                        "network's graph is exported once into the models cache), or auto (what measured faster on "
                        "this kind of machine: ONNX Runtime for a StyleGAN3 of up to 512 px on a CPU, or where only it "
                        "has a GPU; else PyTorch); pictures ONNX cannot draw (random noise, tiles, canvases) render "
                        "with PyTorch")


def finite_float(text: str) -> float:
    """An argparse type: a finite number (no nan / inf)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or abs(value) > 1e4:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number within +-10000")
    return value


def translation(text: str) -> tuple[float, float]:
    """An argparse type: 'X,Y' as two finite numbers."""
    parts = text.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"{text!r} must be two numbers X,Y (e.g. 0.1,-0.2)")
    return finite_float(parts[0]), finite_float(parts[1])


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


def check_prompt(args: argparse.Namespace, scorer, network, prompt: str, negative: str | None) -> None:
    """Before scoring: warn about words the CLIP never saw, and on a conditional network without
    --class take the class the prompt names (e.g. "triangles" is the default model's geometric)."""
    from studio.clip.vocabulary import LARGER_CLIP, suggest_class, unseen_words

    unseen = unseen_words(f"{prompt} {negative or ''}", scorer.vocabulary())
    if unseen:
        print(f"note: {scorer.name} never saw {', '.join(repr(w) for w in unseen)} in training and will guess; "
              f"for free text use a larger CLIP, e.g. --clip {LARGER_CLIP}", file=sys.stderr)
    if args.class_index is None and network.G.c_dim and network.class_names:
        k = suggest_class(prompt, network.class_names, network.class_keywords)
        if k is not None:
            print(f"note: the prompt asks for class {k} ({network.class_names[k]}) of {network.name}; "
                  "--class chooses another", file=sys.stderr)
            args.class_index = k


def clip_choice(args: argparse.Namespace) -> tuple[str, str | None]:
    """(spec, config) from --clip / --clip-config, falling back to the settings' remembered CLIP."""
    from studio.core.settings import load_settings

    if args.clip is not None:
        return args.clip, args.clip_config
    settings = load_settings()
    return settings.clip, args.clip_config if args.clip_config is not None else settings.clip_config

