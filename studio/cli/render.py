"""Rendering commands: generate, panorama, blend, project, directions, mix, interpolate, info, convert."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from studio.cli.common import (
    CliError,
    add_clip_options,
    add_render_options,
    network_file,
    open_renderer,
    output_dir,
    progress_bar,
    render_settings,
    save_png,
)


def cmd_generate(args: argparse.Namespace) -> int:
    from studio.gan.latents import parse_seeds

    seeds = parse_seeds(args.seeds)
    renderer = open_renderer(args)
    settings = render_settings(args, renderer)
    edits = _edits(args, renderer)
    outdir = output_dir(args.outdir)
    with progress_bar(len(seeds), "generate") as bar:
        if edits:       # each image through its recipe: seed, settings, then the edits
            for seed in seeds:
                recipe = renderer.recipe(settings, seed=seed, edits=edits)
                save_png(outdir / f"seed{seed:04d}.png", renderer.render_recipe(recipe), recipe)
                bar.update(1)
        else:
            for seed, image in renderer.render_seeds(seeds, settings):
                save_png(outdir / f"seed{seed:04d}.png", image, renderer.recipe(settings, seed=seed))
                bar.update(1)
    print(f"wrote {len(seeds)} image{'s' * (len(seeds) != 1)} to {outdir}")
    return 0


def _sweep_sources(args: argparse.Namespace, renderer, settings, seed: int):
    from studio.app.edits import direction_by_name, parse_layers
    from studio.app.mixing import Source
    from studio.gan.directions import DirectionSet, parse_edit

    name, amount, layers_text = parse_edit(args.sweep if "=" in args.sweep else f"{args.sweep}=3")
    directions = None
    if args.directions:
        directions = DirectionSet.load(args.directions, fingerprint=renderer.network.fingerprint, w_dim=renderer.G.w_dim)
    direction = direction_by_name(renderer, name, directions)
    layers = parse_layers(layers_text, renderer) if layers_text else None
    amount = abs(amount) or 3.0
    return [Source(recipe=renderer.recipe(settings, seed=seed, edits=[direction.edit(a, layers)])) for a in (-amount, amount)]


def _edits(args: argparse.Namespace, renderer):
    """--edit NAME=AMOUNT[@LAYERS] ... with names from --directions FILE or built in (sefaK, ganspaceK)."""
    if not getattr(args, "edit", None):
        return []
    from studio.app.edits import edits_from_specs
    from studio.gan.directions import DirectionSet

    directions = None
    if args.directions:
        directions = DirectionSet.load(args.directions, fingerprint=renderer.network.fingerprint, w_dim=renderer.G.w_dim)
    return edits_from_specs(renderer, args.edit, directions)


def cmd_blend(args: argparse.Namespace) -> int:
    from studio.app import blending
    from studio.gan.blend import layer_weights, parse_weights
    from studio.gan.formats import load_network
    from studio.gan.render_settings import RenderSettings
    from studio.imaging.sheets import image_grid

    points = parse_weights(args.weights)
    a = load_network(network_file(args.a), device="cpu", with_discriminator=False)
    b = load_network(network_file(args.b), device="cpu", with_discriminator=False)
    G = blending.blended(a, b, points)
    out = Path(args.out).expanduser()
    if out.suffix.lower() != ".safetensors":
        raise CliError(f"the blend is written as a studio network: give a .safetensors path, not {out.name}")
    output_dir(str(out.parent))
    fingerprint = blending.save(out, G, a, b, points)
    settings = RenderSettings(class_index=0 if G.c_dim else None)
    grid = image_grid(list(blending.preview(a, b, G, settings=settings)), cols=len(blending.PREVIEW_SEEDS))
    preview = out.with_suffix(".png")
    save_png(preview, grid, None)
    print(f"blended {a.name} and {b.name} (layer weights of {b.name}: "
          f"{', '.join(f'{w:g}' for w in layer_weights(points, G.num_ws))}) -> {out} "
          f"(fingerprint {fingerprint[:12]}); preview {preview.name}: rows {a.name}, the blend, {b.name}")
    return 0


def cmd_panorama(args: argparse.Namespace) -> int:
    from studio.app import panorama
    from studio.gan.latents import parse_seeds
    from studio.gan.recipe import Latent

    seeds = parse_seeds(args.seeds)
    renderer = open_renderer(args)
    labels = panorama.region_map(args.layout, len(seeds))
    if args.canvas is None:
        canvas = panorama.suggested_canvas(labels)
        args.canvas = f"{canvas[0]}:{canvas[1]}" if canvas else None
    settings = render_settings(args, renderer)
    blend = args.blend if args.blend is not None else panorama.default_blend(renderer.blend_resolutions)
    recipe = panorama.panorama_recipe(renderer, settings, [Latent(seed=s) for s in seeds], labels, blend=blend,
                                      feather=args.feather)
    out = Path(args.out).expanduser()
    output_dir(str(out.parent))
    with progress_bar(1, "panorama") as bar:
        image = renderer.render_recipe(recipe)
        bar.update(1)
    save_png(out, image, recipe)
    print(f"wrote {out} ({image.shape[1]}x{image.shape[0]}): seeds {', '.join(map(str, seeds))} on "
          f"{len(labels)}x{len(labels[0])} cells, meeting at {blend} px")
    return 0


def cmd_project(args: argparse.Namespace) -> int:
    from studio.app import projection

    renderer = open_renderer(args)
    settings = render_settings(args, renderer)
    picture = projection.read_picture(args.image, renderer.G.img_resolution, args.fit)
    outdir = output_dir(args.out)
    clip = None
    if args.clip_weight > 0:
        from studio.cli.common import clip_choice
        from studio.clip.model import load_clip

        spec, config = clip_choice(args)
        clip = load_clip(spec, config=config)
    with progress_bar(args.start_seeds + args.steps, f"project ({args.space})") as bar:
        result = projection.run(renderer, picture, settings, space=args.space, steps=args.steps,
                                start_seeds=args.start_seeds, use_discriminator=args.use_d, clip=clip,
                                clip_weight=args.clip_weight, progress=lambda done, total: bar.update(done - bar.n))
    summary = projection.write_results(renderer, picture, result, settings, outdir)
    print(f"projected {Path(args.image).name} into {renderer.network.name} in {args.space}: PSNR "
          f"{summary['psnr_db']:.2f} dB, MS-SSIM {summary['ms_ssim']:.4f}, {summary['seconds']:.1f} s -> "
          f"{outdir / 'projected.png'} (its recipe holds the w: export, edit or evolve it like any image)")
    return 0


def _taste(renderer, settings, layers, min_stars: int):
    from studio.app.edits import taste_direction
    from studio.core import paths
    from studio.library.store import Library

    path = paths.library_db_path()
    if not path.exists():
        raise CliError("your taste is learned from images you starred in the Library, and the Library is empty")
    with Library(path) as library:
        return taste_direction(renderer, library, settings, min_stars=min_stars, layers=layers)


def cmd_directions(args: argparse.Namespace) -> int:
    from studio.app.edits import find_directions, parse_layers, preview_sheet

    renderer = open_renderer(args)
    settings = render_settings(args, renderer)
    layers = parse_layers(args.layers, renderer)
    outdir = output_dir(args.out)
    with progress_bar(args.samples if args.method == "ganspace" else 1, f"{args.method}") as bar:
        if args.method == "taste":
            found = _taste(renderer, settings, layers, args.min_stars)
        elif args.method == "clip":
            from studio.app.edits import prompt_direction
            from studio.cli.common import clip_choice

            if not args.prompt:
                raise CliError("--method clip needs --prompt \"...\" (the direction raises that prompt's CLIP score)")
            spec, config = clip_choice(args)
            found = prompt_direction(renderer, spec, config, args.prompt, settings)
        else:
            found = find_directions(renderer, args.method, layers=layers, count=args.count, samples=args.samples,
                                    class_index=settings.class_index,
                                    progress=lambda done, total: bar.update(done - bar.n))
        bar.update(bar.total - bar.n)
    path = found.save(outdir / "directions.json")
    shown = found.directions[:args.preview]
    with progress_bar(len(shown) * 7, "preview") as bar:
        sheet = preview_sheet(renderer, shown, args.seed, settings,
                              progress=lambda done, total: bar.update(done - bar.n))
    save_png(outdir / "preview.png", sheet, None)
    print(f"wrote {len(found.directions)} {args.method} directions to {path} and preview.png "
          f"(rows: the first {len(shown)}, from -3 to +3 sigma on seed {args.seed}); apply one with "
          f"`studio generate --directions {path} --edit {found.directions[0].name}=2`")
    return 0


def cmd_mix(args: argparse.Namespace) -> int:
    from studio.app.mixing import Source, mix_matrix, write_sheet
    from studio.gan.latents import parse_seeds
    from studio.gan.mixing import describe_layers

    rows, cols = parse_seeds(args.rows), parse_seeds(args.cols)
    renderer = open_renderer(args)
    styles = _style_layers(args.styles, renderer)
    settings = render_settings(args, renderer)
    outdir = output_dir(args.outdir)
    sources: dict[tuple[str, int], object] = {}
    cells = {}
    with progress_bar(len(rows) * len(cols), "mix") as bar:
        for item in mix_matrix(renderer, [Source(seed=r) for r in rows], [Source(seed=c) for c in cols], styles,
                               settings, progress=lambda done, total: bar.update(done - bar.n)):
            if item.tag[0] == "cell":
                _, ri, ci = item.tag
                cells[ri, ci] = item.image
                save_png(outdir / f"{rows[ri]}-{cols[ci]}.png", item.image, item.recipe)
            else:
                sources[item.tag] = item.image
    # style_mixing.py's grid: the style seeds across the top, the form seeds down the side
    write_sheet(str(outdir / "grid.png"), [sources["style", c] for c in range(len(cols))],
                [sources["form", r] for r in range(len(rows))], cells,
                across_labels=[f"style {c}" for c in cols], down_labels=[f"form {r}" for r in rows])
    print(f"wrote {len(cells)} mixed images and grid.png to {outdir} (style layers {describe_layers(styles)})")
    return 0


def _style_layers(text: str, renderer) -> list[int]:
    """--styles: w indices ('0-6,9') or a preset named by what the layers draw."""
    from studio.gan.latents import parse_indices
    from studio.gan.mixing import PRESET_NAMES, layer_scales, preset_layers

    key = PRESET_NAMES.get(text.strip().lower())
    if key is None:
        return parse_indices(text, upper=renderer.num_ws)
    if key == "position" and not renderer.has_view:
        raise CliError(f"--styles position takes a StyleGAN3 network's input; {renderer.network.name} has none")
    layers = preset_layers(key, renderer.num_ws, layer_scales(renderer.G))
    if not layers:
        raise CliError(f"{renderer.network.name} has no {text} layers")
    return layers


def cmd_interpolate(args: argparse.Namespace) -> int:
    from studio.app import interpolation
    from studio.app.mixing import Source
    from studio.gan.interpolate import parse_keyframe_seeds
    from studio.imaging.video import video_kind

    seeds = parse_keyframe_seeds(args.seeds)
    if args.sweep and len(seeds) != 1:
        raise CliError(f"--sweep moves one picture along a direction: give one seed (--seeds 5), got {len(seeds)}")
    if not args.sweep and len(seeds) < 2:
        raise CliError(f"an interpolation needs at least 2 seeds, got {len(seeds)}; e.g. --seeds 1,5,9")
    if not args.fps > 0:
        raise CliError(f"--fps must be a positive number, got {args.fps:g}")
    if not 1 <= args.quality <= 10:
        raise CliError(f"--quality must be from 1 to 10, got {args.quality:g}")
    if args.frames is not None and args.duration is not None:
        raise CliError("give --frames or --duration, not both")
    if args.duration is not None and not args.duration > 0:
        raise CliError(f"--duration must be a positive number of seconds, got {args.duration:g}")
    frames = args.frames if args.frames is not None else (
        max(len(seeds), round(args.duration * args.fps)) if args.duration is not None else 60)
    if args.size is not None and not 16 <= args.size <= 8192:
        raise CliError(f"--size must be from 16 to 8192 pixels, got {args.size}")
    upscaler = args.upscaler
    if upscaler != "lanczos":
        if not upscaler.lower().endswith(".onnx"):
            raise CliError(f"--upscaler must be lanczos or a super-resolution model file ending in .onnx; "
                           f"got {upscaler!r}")
        upscaler = "onnx:" + str(Path(upscaler).expanduser().resolve())
    out = Path(args.out).expanduser()
    kind = video_kind(out)   # refuse an unknown suffix before loading the network
    renderer = open_renderer(args)
    settings = render_settings(args, renderer)
    output_dir(str(out if kind == "frames" else out.parent))
    sources, loop, space = [Source(seed=seed) for seed in seeds], args.loop, args.space
    if args.sweep:   # an edit animation: the picture at -AMOUNT and +AMOUNT sigmas, back and forth in W
        sources, loop, space = _sweep_sources(args, renderer, settings, seeds[0]), True, "w"
    with progress_bar(frames, "interpolate") as bar:
        try:
            count = interpolation.write(renderer, sources, frames, out,
                                        space=space, loop=loop, settings=settings, easing=args.easing,
                                        fps=args.fps, quality=args.quality, long_side=args.size, upscaler=upscaler,
                                        progress=lambda done, total: bar.update(done - bar.n))
        except OSError as exc:
            raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None
    what = {"mp4": "an MP4 video", "gif": "a GIF", "frames": "PNG frames"}[kind]
    print(f"wrote {count} frames as {what} to {out} ({args.space.upper()} space{', looping' if args.loop else ''})")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from studio.gan.formats import load_network

    network = load_network(network_file(args.path))
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
    from studio.core.hashing import file_sha256
    from studio.gan.formats import FORMAT_LABELS, load_network
    from studio.gan.formats.native import save_native

    out = Path(args.output).expanduser()
    if out.suffix not in (".safetensors", ".onnx"):
        raise CliError("the output must end in .safetensors (the studio's own format) or .onnx")
    if out.exists() and not args.force:
        raise CliError(f"{out} exists; add --force to replace it")
    source = network_file(args.input)
    if out.suffix == ".onnx":
        return _convert_onnx(source, out)
    network = load_network(source, with_discriminator=not args.no_discriminator)
    provenance = {
        "source_file": Path(source).name,
        "source_sha256": file_sha256(source),
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


def _convert_onnx(source: str, out: Path) -> int:
    from studio.gan.formats import load_network
    from studio.gan.formats.onnx_export import export_onnx

    network = load_network(source, with_discriminator=False)
    output_dir(str(out.parent))
    with progress_bar(1, "export ONNX") as bar:
        try:
            synthesis, mapping = export_onnx(network.G, out, fingerprint=network.fingerprint, name=network.name)
        except OSError as exc:
            raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None
        bar.update(1)
    G = network.G
    print(f"exported {network.name} -> {synthesis} (synthesis: ws [N, {G.num_ws}, {G.w_dim}] -> images "
          f"[N, {G.img_channels}, {G.img_resolution}, {G.img_resolution}]"
          f"{', stored noise' if network.kind != 'stylegan3' else '; view [3, 3]: translate / rotate'}; "
          f"{synthesis.stat().st_size / 2 ** 20:.1f} MiB) and {mapping.name} (z [N, {G.z_dim}]"
          f"{f', c [N, {G.c_dim}]' if G.c_dim else ''}, psi per w layer [{G.num_ws}] -> ws)")
    return 0


def add_parsers(sub) -> None:
    """Subcommands: generate, mix, interpolate, info, convert."""
    p = sub.add_parser("generate", help="render images for seeds", description=(
        "Render one PNG per seed (seed0001.png ...), each carrying its recipe. The same seed gives the same "
        "image as NVIDIA's generate.py for the same network."))
    add_render_options(p)
    p.add_argument("--seeds", required=True, help="seeds, e.g. 1-4,7")
    p.add_argument("--edit", action="append", default=[], metavar="NAME=AMOUNT[@LAYERS]",
                   help="move along a latent direction by AMOUNT standard deviations, on all w layers or LAYERS "
                        "(0-3, layout, shapes, colour); NAME from --directions, or sefaK / ganspaceK (K = 0 "
                        "strongest); repeat to stack edits")
    p.add_argument("--directions", default=None, metavar="FILE", help="a directions.json from `studio directions`")
    p.add_argument("--outdir", default="out", help="output folder (default: out)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("blend", help="blend two models layer by layer", description=(
        "Mix two networks of one architecture and size tensor by tensor, with a weight per w layer for the "
        "second (given at a few layers, linear between them): e.g. --weights 0:0,4:0.5,8:1 keeps the first's coarse "
        "layers (layout) and takes the second's fine ones (colour, texture). Writes a studio network whose "
        "provenance names both parents and the weights, and a preview PNG beside it."))
    p.add_argument("a", help="the first network (weight 0)")
    p.add_argument("b", help="the second network (weight 1)")
    p.add_argument("--weights", required=True, metavar="LAYER:W,...", help="the second network's weight at w layers")
    p.add_argument("--out", required=True, help="the blend: OUT.safetensors (and OUT.png, a preview)")
    p.set_defaults(func=cmd_blend)

    p = sub.add_parser("panorama", help="many seeds on one canvas, blended in feature space", description=(
        "Render one picture shared by several seeds: the canvas is split into regions (side by side, stacked, a "
        "grid, or a mask image painted with one flat colour per region, numbered in reading order) and each "
        "region takes its seed's look. The regions render apart up to the --blend block and meet there, so the "
        "seams are drawn by the network, not cross-faded. The PNG carries its recipe."))
    add_render_options(p)
    p.add_argument("--seeds", required=True, help="two or more seeds, one per region: e.g. 3,17,42")
    p.add_argument("--layout", default="columns", metavar="NAME|MASK",
                   help="columns (default), rows, grid, gridRxC (e.g. grid2x3) or a mask image")
    p.add_argument("--blend", type=int, default=None, metavar="PX",
                   help="the block (4, 8, 16 ... px) where the regions meet: low = one shared composition, "
                        "high = each region keeps its own (default: a quarter of the way up)")
    p.add_argument("--feather", type=float, default=0.1, metavar="F",
                   help="how far the regions' styles cross-fade, as a fraction of the canvas' short side (0-0.5, "
                        "default 0.1)")
    p.add_argument("--out", default="panorama.png", help="the picture (default: panorama.png)")
    p.set_defaults(func=cmd_panorama)

    p = sub.add_parser("project", help="find the latent of a picture (projection)", description=(
        "Find the latent whose image is closest to a picture: the best of --start-seeds random latents, then "
        "--steps of optimisation in W (and in W+ for --space w+), with pixel L1 at three scales and MS-SSIM (and "
        "the network's discriminator features with --use-d). Fully offline. Writes projected.png (with a recipe "
        "holding its w), target.png, compare.png and projection.json."))
    p.add_argument("image", help="the picture (PNG, JPEG, TIFF, WebP ...)")
    add_render_options(p)
    p.add_argument("--space", choices=("w", "w+"), default="w+",
                   help="w: one w for every layer (easier to edit); w+: one per layer (closer; default)")
    p.add_argument("--steps", type=int, default=300, help="optimisation steps (default 300)")
    p.add_argument("--start-seeds", type=int, default=256, help="random latents tried as the start (default 256)")
    p.add_argument("--fit", choices=("crop", "pad", "stretch"), default="crop",
                   help="how a picture that is not square becomes the model's square (default crop)")
    p.add_argument("--use-d", action="store_true", help="add the network's discriminator features to the loss")
    p.add_argument("--clip-weight", type=float, default=0.5, metavar="W",
                   help="weight of your CLIP's view of the picture in the loss (default 0.5, which measured best; "
                        "0 = pixels and structure only)")
    add_clip_options(p, purpose="compares the pictures with --clip-weight")
    p.add_argument("--out", default="projection", help="output folder (default: projection)")
    p.set_defaults(func=cmd_project)

    p = sub.add_parser("directions", help="find latent directions (SeFa, GANSpace, taste, CLIP) and preview them",
                       description=(
        "Find the directions a network's latents can be moved along: SeFa (closed form, from the style layers' "
        "weights, instant) or GANSpace (principal components of many sampled latents, cached per model). "
        "Writes directions.json and preview.png (one row per direction, -3 to +3 sigma)."))
    add_render_options(p)
    p.add_argument("--method", choices=("sefa", "ganspace", "taste", "clip"), default="sefa",
                   help="sefa (default), ganspace, taste (from the images of this model you starred in the Library "
                        "against what it makes unasked), clip (toward --prompt)")
    p.add_argument("--prompt", default=None, help="--method clip: the prompt the direction leads toward")
    p.add_argument("--min-stars", type=int, default=1, help="--method taste: count images with this many stars")
    add_clip_options(p, purpose="leads --method clip")
    p.add_argument("--layers", default=None, metavar="LAYERS",
                   help="the w layers the directions act on: 0-3, layout, shapes, colour (default: all)")
    p.add_argument("--count", type=int, default=10, help="directions to keep (default 10)")
    p.add_argument("--samples", type=int, default=10_000, help="GANSpace: latents sampled (default 10000)")
    p.add_argument("--preview", type=int, default=5, help="directions shown in preview.png (default 5)")
    p.add_argument("--seed", type=int, default=0, help="the image preview.png edits (default 0)")
    p.add_argument("--out", default="directions", help="output folder (default: directions)")
    p.set_defaults(func=cmd_directions)

    p = sub.add_parser("mix", help="style-mixing grid", description=(
        "Style mixing as NVIDIA's style_mixing.py: each row seed gives the form, each column seed gives the "
        "styles at the chosen w layers. Writes ROW-COL.png per cell and a labelled grid.png."))
    add_render_options(p)
    p.add_argument("--rows", required=True, help="row (form) seeds, e.g. 85,100,75")
    p.add_argument("--cols", required=True, help="column (style) seeds, e.g. 55,821,1789")
    p.add_argument("--styles", default="0-6",
                   help="w layers taken from the column seeds: indices (default 0-6) or layout (the coarse layers), "
                        "shapes (middle), texture (fine: colour and texture), position (StyleGAN3's input)")
    p.add_argument("--outdir", default="out", help="output folder (default: out)")
    p.set_defaults(func=cmd_mix)

    p = sub.add_parser("interpolate", help="interpolation video between seeds", description=(
        "Morph between the images of the given seeds (in order; repeats allowed) and write an MP4, a GIF or a "
        "folder of PNG frames. Every seed's image is one of the frames; --frames counts them all, including "
        "both ends (with --loop the path returns to the first seed, which is not repeated at the end)."))
    add_render_options(p)
    p.add_argument("--seeds", required=True, help="keyframe seeds in order, at least 2, e.g. 1,5,9")
    p.add_argument("--frames", type=int, default=None, metavar="N",
                   help="total number of frames (default 60, or --duration x --fps)")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="length in seconds at --fps, instead of --frames")
    p.add_argument("--easing", choices=("linear", "ease"), default="linear",
                   help="linear: frames spread evenly; ease: slow into and out of every seed's image")
    p.add_argument("--size", type=int, default=None, metavar="PX",
                   help="long side of the frames in pixels (e.g. 2160 for 4K; default: the model's size)")
    p.add_argument("--upscaler", default="lanczos", metavar="lanczos|MODEL.onnx",
                   help="how frames grow to --size: Lanczos (default) or your ONNX super-resolution model")
    p.add_argument("--loop", action="store_true", help="return from the last seed to the first (seamless loop)")
    p.add_argument("--space", choices=("w", "z"), default="w",
                   help="w: straight lines between the images' w (default, smooth); z: great circles in z")
    p.add_argument("--fps", type=float, default=30, help="frames per second for MP4 and GIF (default 30)")
    p.add_argument("--quality", type=float, default=8, metavar="Q", help="MP4 quality from 1 to 10 (default 8)")
    p.add_argument("--out", required=True, metavar="PATH",
                   help="output: video.mp4, anim.gif, or a folder for PNG frames (frame0000.png ...)")
    p.add_argument("--sweep", default=None, metavar="NAME[=AMOUNT][@LAYERS]",
                   help="an edit animation instead: one seed moved along a direction from -AMOUNT to +AMOUNT "
                        "sigmas (default 3) and back, looped (NAME as in generate --edit)")
    p.add_argument("--directions", default=None, metavar="FILE", help="a directions.json for --sweep")
    p.set_defaults(func=cmd_interpolate)

    p = sub.add_parser("info", help="describe a network file",
                       description="Format, architecture, resolution, w layers, classes, parameters and fingerprint.")
    p.add_argument("path", help="network file or http(s) URL")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("convert", help="convert a network to the studio's .safetensors or to ONNX", description=(
        "Convert any supported network file to the studio's own format (safe to share, fast to load): the "
        "converted file renders identical images and keeps the same fingerprint. Or, for OUTPUT.onnx, export the "
        "synthesis network (ws -> images, with a dynamic batch and the stored noise) and beside it "
        "OUTPUT.mapping.onnx (z, class and a psi per w layer -> ws), for ONNX Runtime. A StyleGAN3's synthesis "
        "graph also takes view, the 3 x 3 transform that translates and rotates the picture (the identity: none)."))
    p.add_argument("input", help="NVIDIA .pkl, rosinality .pt or studio .safetensors (a file or an http(s) URL)")
    p.add_argument("output", help="OUTPUT.safetensors or OUTPUT.onnx")
    p.add_argument("--half", action="store_true", help="store float16 weights (half the size)")
    p.add_argument("--no-discriminator", action="store_true", help="leave the discriminator out")
    p.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    p.set_defaults(func=cmd_convert)
