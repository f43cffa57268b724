"""The ``studio`` command: no arguments opens the window; subcommands work without it.

Every subcommand is a thin skin over the engine (the same functions the GUI calls). Errors a
user can fix print one line and exit with status 2; there are no tracebacks for bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:
    from studio.engine.render import RenderSettings

EXIT_USAGE = 2


class CliError(Exception):
    """A problem with the command line or its inputs, reported as one line."""


# --------------------------------------------------------------------------------------------
# Helpers


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="img", file=sys.stderr, dynamic_ncols=True,
                disable=None)  # None: off when stderr is not a terminal


def _open_renderer(args: argparse.Namespace):
    from studio.engine.formats import load_network
    from studio.engine.render import Renderer, pick_device

    device = pick_device(args.device)
    network = load_network(args.network, device=device, with_discriminator=False)
    return Renderer(network, device=device, batch_size=args.batch)


def _settings(args: argparse.Namespace, renderer) -> RenderSettings:
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


def _outdir(path: str) -> Path:
    out = Path(path).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None
    return out


def _save(path: Path, image, recipe) -> None:
    from studio.engine.recipe import write_png_with_recipe

    try:
        write_png_with_recipe(path, image, recipe)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------------------------
# Commands


def cmd_generate(args: argparse.Namespace) -> int:
    from studio.engine.latents import parse_seeds

    seeds = parse_seeds(args.seeds)
    renderer = _open_renderer(args)
    settings = _settings(args, renderer)
    outdir = _outdir(args.outdir)
    with _progress(len(seeds), "generate") as bar:
        for seed, image in renderer.render_seeds(seeds, settings):
            _save(outdir / f"seed{seed:04d}.png", image, renderer.recipe(settings, seed=seed))
            bar.update(1)
    print(f"wrote {len(seeds)} image{'s' * (len(seeds) != 1)} to {outdir}")
    return 0


def cmd_mix(args: argparse.Namespace) -> int:
    from studio.engine.latents import parse_indices, parse_seeds
    from studio.engine.mixgrid import mixing_grid
    from studio.engine.recipe import Latent, StyleMix

    rows, cols = parse_seeds(args.rows), parse_seeds(args.cols)
    renderer = _open_renderer(args)
    styles = parse_indices(args.styles, upper=renderer.num_ws)
    settings = _settings(args, renderer)
    outdir = _outdir(args.outdir)
    total = len(rows) * len(cols) + len(rows) + len(cols)
    with _progress(total, "mix") as bar:
        sources = {}
        for seed, image in renderer.render_seeds(sorted(set(rows) | set(cols)), settings):
            sources[seed] = image
        bar.update(len(rows) + len(cols))
        cells = {}
        for r, c, image in renderer.render_mix(rows, cols, styles, settings):
            cells[r, c] = image
            mix = StyleMix(source=Latent(seed=c), layers=list(styles))
            _save(outdir / f"{r}-{c}.png", image, renderer.recipe(settings, seed=r, mix=mix))
            bar.update(1)
    grid = mixing_grid(rows, cols, sources, cells)
    from studio.engine.atomic import atomic_path

    with atomic_path(outdir / "grid.png") as tmp:
        grid.save(tmp, format="PNG")
    print(f"wrote {len(cells)} mixed images and grid.png to {outdir} (style layers {args.styles})")
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    from studio.engine.interpolate import (Keyframe, interpolation_ws, parse_keyframe_seeds, render_frames,
                                           video_kind, write_video)

    seeds = parse_keyframe_seeds(args.seeds)
    if len(seeds) < 2:
        raise CliError(f"an interpolation needs at least 2 seeds, got {len(seeds)}; e.g. --seeds 1,5,9")
    if not args.fps > 0:
        raise CliError(f"--fps must be a positive number, got {args.fps:g}")
    if not 1 <= args.quality <= 10:
        raise CliError(f"--quality must be from 1 to 10, got {args.quality:g}")
    out = Path(args.out).expanduser()
    kind = video_kind(out)   # refuse an unknown suffix before loading the network
    renderer = _open_renderer(args)
    settings = _settings(args, renderer)
    ws = interpolation_ws(renderer, [Keyframe.from_seed(seed) for seed in seeds], args.frames,
                          space=args.space, loop=args.loop, settings=settings)
    _outdir(str(out if kind == "frames" else out.parent))
    with _progress(ws.shape[0], "interpolate") as bar:
        frames = render_frames(renderer, ws, settings, progress=lambda done, total: bar.update(done - bar.n))
        try:
            count = write_video(frames, out, fps=args.fps, loop=True, quality=args.quality)
        except OSError as exc:
            raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None
    what = {"mp4": "an MP4 video", "gif": "a GIF", "frames": "PNG frames"}[kind]
    print(f"wrote {count} frames as {what} to {out} ({args.space.upper()} space{', looping' if args.loop else ''})")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from studio.engine.formats import load_network

    network = load_network(args.path)
    summary = network.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        if isinstance(value, int) and key == "parameters":
            value = f"{value:,}"
        print(f"{key.replace('_', ' '):<{width}}  {value}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from studio.engine.formats import FORMAT_LABELS, load_network
    from studio.engine.formats.native import file_sha256, save_native

    out = Path(args.output).expanduser()
    if out.suffix != ".safetensors":
        raise CliError("the output must end in .safetensors (the studio's own format)")
    if out.exists() and not args.force:
        raise CliError(f"{out} exists; add --force to replace it")
    network = load_network(args.input, with_discriminator=not args.no_discriminator)
    provenance = {
        "source_file": Path(args.input).name,
        "source_sha256": file_sha256(args.input),
        "source_format": network.format,
        **{k: v for k, v in network.provenance.items() if k not in ("source_file", "source_sha256", "source_format")},
    }
    try:
        fp = save_native(out, network.G, network.D, provenance=provenance,
                         training_state=network.training_state, half=args.half)
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None
    size = out.stat().st_size / 2 ** 20
    kept = " with its discriminator" if network.D is not None else ""
    print(f"converted {FORMAT_LABELS[network.format]} -> {out} ({size:.1f} MiB{kept})")
    print(f"fingerprint {fp}")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    try:
        from studio.ui.app import run_app  # noqa: F401  (arrives with the studio window)
    except ImportError:
        print("The studio window is not part of this version yet; use the subcommands "
              "(`studio --help`), e.g. `studio generate --network MODEL.pkl --seeds 1-4`.", file=sys.stderr)
        return EXIT_USAGE
    return run_app(model=args.model)


# --------------------------------------------------------------------------------------------
# Parser


def _add_render_options(p: argparse.ArgumentParser, with_network: bool = True) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio",
        description="GAN Art Studio. Without a command, opens the studio window (optionally on MODEL).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("generate", help="render images for seeds", description=(
        "Render one PNG per seed (seed0001.png ...), each carrying its recipe. The same seed gives the same "
        "image as NVIDIA's generate.py for the same network."))
    _add_render_options(p)
    p.add_argument("--seeds", required=True, help="seeds, e.g. 1-4,7")
    p.add_argument("--outdir", default="out", help="output folder (default: out)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("mix", help="style-mixing grid", description=(
        "Style mixing as NVIDIA's style_mixing.py: each row seed gives the form, each column seed gives the "
        "styles at the chosen w layers. Writes ROW-COL.png per cell and a labelled grid.png."))
    _add_render_options(p)
    p.add_argument("--rows", required=True, help="row (form) seeds, e.g. 85,100,75")
    p.add_argument("--cols", required=True, help="column (style) seeds, e.g. 55,821,1789")
    p.add_argument("--styles", default="0-6", help="w layers taken from the column seeds (default 0-6)")
    p.add_argument("--outdir", default="out", help="output folder (default: out)")
    p.set_defaults(func=cmd_mix)

    p = sub.add_parser("interpolate", help="interpolation video between seeds", description=(
        "Morph between the images of the given seeds (in order; repeats allowed) and write an MP4, a GIF or a "
        "folder of PNG frames. Every seed's image is one of the frames; --frames counts them all, including "
        "both ends (with --loop the path returns to the first seed, which is not repeated at the end)."))
    _add_render_options(p)
    p.add_argument("--seeds", required=True, help="keyframe seeds in order, at least 2, e.g. 1,5,9")
    p.add_argument("--frames", type=int, default=60, metavar="N", help="total number of frames (default 60)")
    p.add_argument("--loop", action="store_true", help="return from the last seed to the first (seamless loop)")
    p.add_argument("--space", choices=("w", "z"), default="w",
                   help="w: straight lines between the images' w (default, smooth); z: great circles in z")
    p.add_argument("--fps", type=float, default=30, help="frames per second for MP4 and GIF (default 30)")
    p.add_argument("--quality", type=float, default=8, metavar="Q", help="MP4 quality from 1 to 10 (default 8)")
    p.add_argument("--out", required=True, metavar="PATH",
                   help="output: video.mp4, anim.gif, or a folder for PNG frames (frame0000.png ...)")
    p.set_defaults(func=cmd_interpolate)

    p = sub.add_parser("info", help="describe a network file",
                       description="Format, architecture, resolution, w layers, classes, parameters and fingerprint.")
    p.add_argument("path", help="network file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("convert", help="convert a network to the studio's .safetensors", description=(
        "Convert any supported network file to the studio's own format (safe to share, fast to load). "
        "The converted file renders identical images and keeps the same fingerprint."))
    p.add_argument("input", help="NVIDIA .pkl, rosinality .pt or studio .safetensors")
    p.add_argument("output", help="OUTPUT.safetensors")
    p.add_argument("--half", action="store_true", help="store float16 weights (half the size)")
    p.add_argument("--no-discriminator", action="store_true", help="leave the discriminator out")
    p.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    p.set_defaults(func=cmd_convert)
    return parser


def _version() -> str:
    from studio import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = {"generate", "mix", "interpolate", "info", "convert"}
    if not argv or (argv[0] not in commands and not argv[0].startswith("-")):
        gui = argparse.ArgumentParser(prog="studio")
        gui.add_argument("model", nargs="?", help="network file or URL to open")
        return cmd_gui(gui.parse_args(argv))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return run_command(args.func, args)


def run_command(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    from studio.engine.errors import StudioError
    from studio.engine.runtime import tune_allocator

    tune_allocator()

    try:
        return func(args)
    except (StudioError, CliError, ValueError) as exc:
        if os.environ.get("STUDIO_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
