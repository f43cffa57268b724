"""The export command: prints from recipes or images."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.cli.common import CliError, network_file, render_settings


def _export_post_settings(args: argparse.Namespace, seed: int | None) -> tuple[list, str]:
    """The post-processing passes ``studio export`` asked for, and a line describing the shape.

    --print (or --size / --long-side) sets the final pixels and --aspect the reshaping before
    it. When both are given and their shapes differ (the issue's ``--aspect 1.27 --print
    40x50cm``), two passes run: colour and the --aspect reshape (with --mode) at the source's
    scale, then the result fills the final size, cropped centrally (or padded for --mode pad)
    so that it is not distorted a second time.
    """
    from studio.imaging.export import plan_passes
    from studio.imaging.sizes import (aspect_orientation, painting_aspect, parse_aspect, parse_print_size,
                                      print_orientation, print_pixels)

    aspect = None
    # the orientation: --orientation, else what the ratio says ("4:5" is portrait), else the print's
    orientation = args.orientation or (aspect_orientation(args.aspect) if args.aspect else None)
    shape_note = ""
    if args.aspect is not None:
        if args.aspect.strip().lower() == "painting":
            aspect, sampled = painting_aspect(seed)
            orientation = args.orientation or sampled
            shape_note = f"painting aspect {aspect:.3f}:1 {orientation}"
        else:
            aspect = parse_aspect(args.aspect)
    size = None
    if args.print_size is not None:
        width, height, unit = parse_print_size(args.print_size)
        size = print_pixels(width, height, unit, args.dpi if args.dpi is not None else 300.0)
    elif args.size is not None:
        parts = args.size.lower().replace("×", "x").split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise CliError(f"--size must be WIDTHxHEIGHT in pixels, e.g. 4000x5000; got {args.size!r}")
        size = (int(parts[0]), int(parts[1]))
    orientation = orientation or (print_orientation(*size) if size else None) or "landscape"
    levels = None
    if args.levels is not None:
        try:
            low, high = (float(v) for v in args.levels.split(","))
        except ValueError:
            raise CliError(f"--levels must be LOW,HIGH percentiles, e.g. 0.1,99.9; got {args.levels!r}") from None
        levels = (low, high)
    upscaler = args.upscaler
    if upscaler != "lanczos" and not upscaler.startswith("onnx:"):
        if not upscaler.lower().endswith(".onnx"):
            raise CliError(f"--upscaler must be lanczos or a super-resolution model file ending in .onnx; got {upscaler!r}")
        upscaler = "onnx:" + str(Path(upscaler).expanduser().resolve())
    colour = dict(levels=levels, auto_levels=args.auto_levels, saturation=args.saturation, gamma=args.gamma)
    final = dict(long_side=args.long_side, upscaler=upscaler, sharpen=args.sharpen, bit_depth=args.bits)
    # native: the network renders the shape itself (see cmd_export); what its quarter steps leave over is cropped
    mode = "crop" if args.mode == "native" else args.mode
    shape = dict(aspect=aspect, orientation=orientation, mode=mode, pad_color=args.pad_color)
    passes, note = plan_passes(colour=colour, shape=shape, final=final, size=size)
    args.native_canvas = None
    if args.mode == "native":
        target = aspect if aspect is not None else (max(size) / min(size) if size else None)
        if target is None:
            raise CliError("--mode native renders at another shape: give it with --aspect, --print or --size")
        from studio.gan.render_settings import canvas_units

        ratio = target if orientation == "landscape" else 1 / target
        args.native_canvas = canvas_units(f"{ratio:.6f}")
    return passes, "; ".join(filter(None, [shape_note, note]))


def cmd_export(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from studio.app.models import find_model
    from studio.core.device import pick_device
    from studio.gan.render import Renderer
    from studio.imaging.codecs import read_image
    from studio.imaging.export import (
        FORMAT_SUFFIXES,
        ExportError,
        ExportSettings,
        format_from_path,
        postprocess_and_export,
        render_and_export,
    )
    from studio.imaging.metadata import read_recipe

    # -- what to write, checked before anything slow ------------------------------------------
    out = Path(args.out).expanduser() if args.out else None
    fmt = args.format
    if out is not None and out.suffix:
        implied = format_from_path(out)
        if fmt is not None and implied != ExportSettings(format=fmt).format:
            raise CliError(f"--out {out.name} does not suit --format {fmt}; "
                           f"use a name ending in {' or '.join(FORMAT_SUFFIXES[ExportSettings(format=fmt).format])}")
        fmt = implied
    export = ExportSettings(format=fmt or "png", quality=args.quality,
                            dpi=args.dpi if args.dpi is not None else (300.0 if args.print_size else None),
                            overwrite=args.force, repeat=args.repeat)
    if out is not None and not out.suffix:
        out = out.with_name(out.name + export.suffix)
    if args.bits == 16 and export.format in ("jpeg", "webp"):
        raise CliError(f"--bits 16 needs PNG or TIFF; {export.format.upper()} holds 8 bits per channel")

    # -- what to export --------------------------------------------------------------------------
    notes: list[str] = []
    recipe = None
    source = Path(args.input).expanduser() if args.input else None
    if source is None:
        if args.seed is None:
            raise CliError("give INPUT (an image or a recipe .json), or --seed (with --network, else the default model)")
        stem = f"seed{args.seed:04d}"
    else:
        given = [flag for flag, value in (("--seed", args.seed), ("--class", args.class_index),
                                          ("--trunc", args.trunc)) if value is not None]
        if given:
            raise CliError(f"{', '.join(given)} only apply without INPUT: the recipe in {source.name} fixes them")
        if not source.is_file():
            raise CliError(f"{source} does not exist" if not source.exists() else f"{source} is not a file")
        try:
            recipe = read_recipe(source)
        except OSError as exc:
            raise CliError(f"cannot read {source}: {exc.strerror or exc}") from None
        if recipe is None and source.suffix.lower() == ".json":
            raise CliError(f"{source.name} is not a studio recipe")
        stem = source.stem
    out = out or Path.cwd() / f"{stem}-print{export.suffix}"
    if out.exists() and not args.force:
        raise CliError(f"{out} exists; add --force to replace it")
    posts, shape_note = _export_post_settings(args, recipe.seed if recipe is not None else args.seed)
    if shape_note:
        notes.append(shape_note)

    if not out.parent.is_dir():
        raise CliError(f"cannot write {out.name}: the folder {out.parent} does not exist")

    # -- one item, shown stage by stage: load model, render, post-processing stages, write --------
    bar = tqdm(total=100, desc="load model", unit="%", file=sys.stderr, dynamic_ncols=True, disable=None,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}")

    def progress(fraction: float, stage: str) -> None:
        bar.set_description(stage, refresh=False)
        bar.update(round(100 * fraction) - bar.n)

    try:
        with bar:
            network = None
            if source is None:
                from studio.gan.formats import load_network

                network = load_network(network_file(args.network or "default"), with_discriminator=False)
            elif recipe is not None:
                search = find_model(recipe, given=network_file(args.network) if args.network else None)
                network = search.network
                notes += search.notes
                if network is None and source.suffix.lower() == ".json":
                    why = f" ({'; '.join(notes)})" if notes else ""      # one line: the reasons go in it
                    raise CliError(f"cannot find the model this recipe needs: {recipe.model.name or 'unnamed'} "
                                   f"(fingerprint {recipe.model.fingerprint}){why}; give it with --network")
            if network is not None:
                device = pick_device(args.device)
                renderer = Renderer(network, device=device, batch_size=1)
                if recipe is None:
                    ns = argparse.Namespace(**{**vars(args), "trunc": 1.0 if args.trunc is None else args.trunc,
                                               "trunc_cutoff": None, "noise_mode": args.noise_mode})
                    recipe = renderer.recipe(render_settings(ns, renderer), seed=args.seed)
                if args.native_canvas is not None:
                    if not renderer.can_widen:
                        raise CliError(f"--mode native renders StyleGAN2, SWAGAN and StyleGAN3 networks at other "
                                       f"shapes; {network.name} is a {network.kind} network: use crop or pad")
                    from dataclasses import replace

                    recipe = replace(recipe, canvas=list(args.native_canvas) if args.native_canvas != (4, 4) else None)
                report = render_and_export(renderer, recipe, posts, export, out, progress=progress)
            else:
                pixels = read_image(source)
                height, width = pixels.shape[:2]
                if recipe is None:
                    notes.append(f"{source.name} carries no recipe: post-processed its own pixels ({width}x{height})")
                else:
                    notes.append(f"model {recipe.model.name or 'unnamed'} (fingerprint {recipe.model.fingerprint[:12]}...) "
                                 f"not found: post-processed the image's own pixels ({width}x{height}) instead of "
                                 "re-rendering; give the model with --network for full quality")
                report = postprocess_and_export(pixels, recipe, posts, export, out, progress=progress)
    except ExportError as exc:
        raise CliError(str(exc)) from None
    for note in notes + report.notes:
        print(f"note: {note}", file=sys.stderr)
    width, height = report.size
    line = f"wrote {report.path}: {width}x{height} px"
    if report.dpi is not None:
        inches = report.print_size_inches
        line += (f", {inches[0] * 2.54:.1f} x {inches[1] * 2.54:.1f} cm ({inches[0]:.2f} x {inches[1]:.2f} in) "
                 f"at {report.dpi:g} dpi")
    line += f", {export.format.upper()} {report.bits}-bit, upscaler {report.upscaler}"
    print(line)
    if report.repeat_path is not None:
        print(f"wrote {report.repeat_path}: the tile repeated {export.repeat} x {export.repeat}")
    return 0


def add_parsers(sub) -> None:
    """Subcommands: export."""
    p = sub.add_parser("export", help="export a print-ready image (size, DPI, levels, format)", description=(
        "Export one image for print. INPUT is an image carrying a recipe (PNG, TIFF, JPEG, WebP), a recipe "
        ".json, or left out when --network and --seed are given. A recipe is re-rendered at full quality "
        "with its model (--network if it is that model, else the recipe's model path, else the library's "
        "record); when the model cannot be found, an image INPUT has its own pixels post-processed instead. "
        "Then: levels and colour, the --aspect reshape, the final size (--print at --dpi, --size or "
        "--long-side) with the upscaler, sharpening, and the file with its recipe, DPI and sRGB profile. "
        "--print sets the final size and --aspect the reshaping before it: when their shapes differ, the "
        "reshaped image fills the print size, cropped centrally (padded with --mode pad)."))
    p.add_argument("input", nargs="?", metavar="INPUT", help="image with a recipe, or a recipe .json")
    p.add_argument("--network", metavar="PATH",
                   help="network file to render --seed from (without INPUT; default: the bundled default model); "
                        "with INPUT, used if it is the recipe's model")
    p.add_argument("--seed", type=int, default=None, metavar="N", help="seed to render (without INPUT)")
    p.add_argument("--class", dest="class_index", default=None, metavar="K|NAME",
                   help="class of a conditional model, by number or name (without INPUT)")
    p.add_argument("--trunc", type=float, default=None, metavar="PSI", help="truncation psi (without INPUT; default 1)")
    p.add_argument("--noise-mode", choices=("const", "random", "none"), default="const", help=argparse.SUPPRESS)
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    p.add_argument("--aspect", metavar="RATIO",
                   help="reshape to a long:short ratio: 1.27, 4:5, 16:9, sqrt2 ... or 'painting' (a painting-like "
                        "ratio chosen from the recipe's seed)")
    p.add_argument("--orientation", choices=("landscape", "portrait"), default=None,
                   help="orientation of --aspect (default: what --aspect says, 4:5 is portrait; else the "
                        "shape of --print / --size; else landscape; 'painting' picks one)")
    p.add_argument("--mode", choices=("stretch", "crop", "pad", "native"), default="stretch",
                   help="how the image reaches the new shape (default stretch); native: a StyleGAN2 network renders "
                        "the shape itself, its input widened, nothing stretched (a sliver may be cropped)")
    p.add_argument("--pad-color", default="#ffffff", metavar="#RRGGBB", help="colour for --mode pad (default white)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", metavar="WxH", help="final size in pixels, e.g. 4000x5000")
    size.add_argument("--long-side", type=int, metavar="PX", help="final long side in pixels")
    size.add_argument("--print", dest="print_size", metavar="SIZE",
                      help="final size as a print, e.g. 40x50cm or 16x20in, at --dpi")
    p.add_argument("--dpi", type=float, default=None,
                   help="dots per inch written into the file and used by --print (default 300 with --print)")
    p.add_argument("--levels", metavar="LOW,HIGH", help="stretch these percentiles to black and white, e.g. 0.1,99.9")
    p.add_argument("--auto-levels", action="store_true", help="automatic contrast (levels at 0.5,99.5)")
    p.add_argument("--saturation", type=float, default=1.0, metavar="S", help="colour saturation (default 1)")
    p.add_argument("--gamma", type=float, default=1.0, metavar="G", help="gamma (default 1)")
    p.add_argument("--sharpen", type=float, default=0.0, metavar="A", help="unsharp mask amount 0-2 (default 0)")
    p.add_argument("--upscaler", default="lanczos", metavar="lanczos|PATH.onnx",
                   help="how to enlarge: lanczos (default) or a super-resolution ONNX model")
    p.add_argument("--format", choices=("png", "tiff", "tif", "jpeg", "jpg", "webp"), default=None,
                   help="file format (default: from --out, else png)")
    p.add_argument("--bits", type=int, choices=(8, 16), default=8, help="bits per channel (16: PNG and TIFF only)")
    p.add_argument("--quality", type=int, default=95, metavar="Q", help="JPEG / WebP quality 1-100 (default 95)")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="a seamless tile: also write it repeated N x N (2-4) beside the print, as NAME-repeatNxN")
    p.add_argument("--out", metavar="FILE", help="output file (default: INPUT's name + '-print' in this folder)")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=cmd_export)
