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


def _export_post_settings(args: argparse.Namespace, seed: int | None) -> tuple[list, str]:
    """The post-processing passes ``studio export`` asked for, and a line describing the shape.

    --print (or --size / --long-side) sets the final pixels and --aspect the reshaping before
    it. When both are given and their shapes differ (the issue's ``--aspect 1.27 --print
    40x50cm``), two passes run: colour and the --aspect reshape (with --mode) at the source's
    scale, then the result fills the final size, cropped centrally (or padded for --mode pad)
    so that it is not distorted a second time.
    """
    from studio.engine.export import plan_passes
    from studio.engine.postprocess import painting_aspect, parse_aspect, parse_print_size, print_pixels

    aspect = None
    orientation = args.orientation or "landscape"
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
    shape = dict(aspect=aspect, orientation=orientation, mode=args.mode, pad_color=args.pad_color)
    passes, note = plan_passes(colour=colour, shape=shape, final=final, size=size)
    return passes, "; ".join(filter(None, [shape_note, note]))


def _find_export_model(recipe, args: argparse.Namespace, notes: list[str]):
    """The network a recipe names: --network, the recipe's model path, then the library's record.

    Each candidate must have the recipe's fingerprint. Returns the loaded network or None.
    """
    from studio.engine.errors import StudioError
    from studio.engine.formats import load_network
    from studio.paths import library_db_path

    wanted = recipe.model.fingerprint
    candidates: list[tuple[str, str]] = []
    if args.network:
        candidates.append(("--network", args.network))
    if recipe.model.path:
        candidates.append(("the recipe's model path", recipe.model.path))
    try:
        if library_db_path().exists():
            from studio.library.store import Library

            with Library() as library:
                record = library.model(wanted)
            if record is not None and record.last_path:
                candidates.append(("the library", record.last_path))
    except Exception as exc:  # noqa: BLE001 - a damaged library must not stop an export
        notes.append(f"could not look the model up in the library: {exc}")
    seen: set[str] = set()
    for where, path in candidates:
        resolved = str(Path(path).expanduser())
        if resolved in seen or not Path(resolved).is_file():
            continue
        seen.add(resolved)
        try:
            network = load_network(resolved, with_discriminator=False)
        except StudioError as exc:
            notes.append(f"{where} ({resolved}) could not be loaded: {exc}")
            continue
        if network.fingerprint == wanted:
            return network
        if where == "--network":
            notes.append(f"--network {resolved} is not the model the recipe names "
                         f"({recipe.model.name or 'unnamed'}, fingerprint {wanted[:12]}...); looking elsewhere")
    return None


def cmd_export(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from studio.engine.export import (FORMAT_SUFFIXES, ExportError, ExportSettings, format_from_path,
                                      postprocess_and_export, read_image, render_and_export)
    from studio.engine.recipe import read_recipe
    from studio.engine.render import Renderer, pick_device

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
                            overwrite=args.force)
    if out is not None and not out.suffix:
        out = out.with_name(out.name + export.suffix)
    if args.bits == 16 and export.format in ("jpeg", "webp"):
        raise CliError(f"--bits 16 needs PNG or TIFF; {export.format.upper()} holds 8 bits per channel")

    # -- what to export --------------------------------------------------------------------------
    notes: list[str] = []
    recipe = None
    source = Path(args.input).expanduser() if args.input else None
    if source is None:
        if not args.network or args.seed is None:
            raise CliError("give INPUT (an image or a recipe .json), or --network and --seed")
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
                from studio.engine.formats import load_network

                network = load_network(args.network, with_discriminator=False)
            elif recipe is not None:
                network = _find_export_model(recipe, args, notes)
                if network is None and source.suffix.lower() == ".json":
                    for note in notes:
                        print(f"note: {note}", file=sys.stderr)
                    raise CliError(f"cannot find the model this recipe needs: {recipe.model.name or 'unnamed'} "
                                   f"(fingerprint {recipe.model.fingerprint}); give it with --network")
            if network is not None:
                device = pick_device(args.device)
                renderer = Renderer(network, device=device, batch_size=1)
                if recipe is None:
                    ns = argparse.Namespace(**{**vars(args), "trunc": 1.0 if args.trunc is None else args.trunc,
                                               "trunc_cutoff": None, "noise_mode": args.noise_mode})
                    recipe = renderer.recipe(_settings(ns, renderer), seed=args.seed)
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
    return 0


def cmd_rank(args: argparse.Namespace) -> int:
    from studio.engine.atomic import atomic_write_text
    from studio.engine.clip import ClipSpec, load_clip
    from studio.engine.latents import parse_seeds
    from studio.engine.rank import rank_seeds, scoring_resolution
    from studio.engine.render import pick_device
    from studio.settings import load_settings

    seeds = parse_seeds(args.seeds)
    prompt = args.prompt.strip()
    if not prompt:
        raise CliError('--prompt is empty: say what the images should show, e.g. --prompt "autumn trees"')
    if args.top < 1:
        raise CliError(f"--top must be at least 1, got {args.top}")
    if args.score_res < 0:
        raise CliError(f"--score-res must be 0 (full resolution) or a size in pixels, got {args.score_res}")
    clip_text = args.clip if args.clip is not None else load_settings().clip
    spec = ClipSpec.parse(clip_text, config=args.clip_config)
    scorer = load_clip(spec, device=pick_device(args.device))   # before the network: fail fast
    renderer = _open_renderer(args)
    settings = _settings(args, renderer)
    outdir = _outdir(args.outdir)
    score_res = args.score_res or None
    negative = (args.negative or "").strip() or None
    with _progress(len(seeds), "rank") as bar:
        top = rank_seeds(renderer, scorer, prompt, seeds, top_k=args.top, negative=negative,
                         negative_weight=args.negative_weight, settings=settings, score_resolution=score_res,
                         progress=lambda done, total: bar.update(done - bar.n))
    images = dict(renderer.render_seeds([seed for seed, _ in top], settings))   # the winners at full size
    entries = []
    for rank, (seed, score) in enumerate(top, 1):
        name = f"rank{rank:02d}-seed{seed:04d}.png"
        _save(outdir / name, images[seed], renderer.recipe(settings, seed=seed))
        entries.append({"rank": rank, "seed": seed, "score": score, "file": name})
    resolution = scoring_resolution(renderer, scorer, score_res) or renderer.G.img_resolution
    ranking = {
        "prompt": prompt,
        "negative": negative,
        "negative_weight": args.negative_weight if negative else None,
        "seeds": args.seeds,
        "seed_count": len(seeds),
        "top": entries,
        "clip": {"spec": spec.to_text(), "config": spec.config, "name": scorer.name,
                 "input_size": scorer.input_size},
        "score_resolution": resolution,
        "model": {"name": renderer.network.name, "fingerprint": renderer.network.fingerprint},
        "truncation_psi": settings.truncation_psi,
        "truncation_cutoff": settings.truncation_cutoff,
        "class_index": settings.class_index,
        "noise_mode": settings.noise_mode,
    }
    try:
        atomic_write_text(outdir / "ranking.json", json.dumps(ranking, indent=2) + "\n")
    except OSError as exc:
        raise CliError(f"cannot write {outdir / 'ranking.json'}: {exc.strerror or exc}") from None
    for entry in entries:
        print(f"{entry['rank']:>3}. seed {entry['seed']:<10} {entry['score']:+.4f}  {entry['file']}")
    print(f"wrote the top {len(entries)} of {len(seeds)} for \"{prompt}\" and ranking.json to {outdir} "
          f"({scorer.name}, scored at {resolution} px)")
    return 0


def cmd_evolve(args: argparse.Namespace) -> int:
    from studio.engine.atomic import atomic_write_text
    from studio.engine.clip import ClipSpec, load_clip
    from studio.engine.evolve import Evolution, EvolveConfig, make_clip_fitness
    from studio.engine.formats import load_network
    from studio.engine.latents import one_hot
    from studio.engine.render import Renderer, pick_device
    from studio.settings import load_settings

    prompt = args.prompt.strip()
    if not prompt:
        raise CliError('--prompt is empty: say what to evolve towards, e.g. --prompt "an abstract painting '
                       'with orange triangles"')
    if args.keep is not None and args.keep < 0:
        raise CliError(f"--keep must be 0 (every image) or a count, got {args.keep}")
    if args.score_res < 0:
        raise CliError(f"--score-res must be 0 (full resolution) or a size in pixels, got {args.score_res}")
    config = EvolveConfig(
        population=args.population, parents=args.parents, recombination=args.recombination,
        mutation=args.mutation, generations=args.generations, space=args.space, seed=args.seed,
        negative_weight=args.negative_weight, realness_weight=args.realness, score_resolution=args.score_res or None,
    )
    device = pick_device(args.device)
    clip_text = args.clip if args.clip is not None else load_settings().clip
    spec = ClipSpec.parse(clip_text, config=args.clip_config)
    scorer = load_clip(spec, device=device)   # before the network: fail fast
    network = load_network(args.network, device=device, with_discriminator=bool(args.realness))
    if args.realness and network.D is None:
        raise CliError(f"--realness needs the model's discriminator, and {network.path.name} has none "
                       "(rosinality checkpoints and files converted with --no-discriminator hold only the generator)")
    renderer = Renderer(network, device=device, batch_size=args.batch)
    settings = _settings(args, renderer)
    negative = (args.negative or "").strip() or None
    labels = one_hot(settings.class_index, renderer.G.c_dim) if renderer.G.c_dim else None
    fitness = make_clip_fitness(scorer, prompt, negative, args.negative_weight, network.D, args.realness, labels)
    evolution = Evolution(renderer, fitness, config, settings=settings)
    outdir = _outdir(args.outdir)
    keep = config.generation_size if args.keep is None else args.keep or None   # None: every image
    files: dict[int, list[str]] = {}

    def write(generation) -> None:
        kept = generation.individuals[:keep] if keep else generation.individuals
        folder = _outdir(str(outdir / f"gen{generation.index:02d}"))
        width = max(2, len(str(len(kept))))
        names = []
        for rank, (ind, image) in enumerate(zip(kept, evolution.render_full(kept)), 1):
            name = f"rank{rank:0{width}d}.png"
            _save(folder / name, image, evolution.recipe_for(ind))
            names.append(f"{folder.name}/{name}")
        files[generation.uid] = names

    with _progress(evolution.planned_images(), "evolve") as bar:
        evolution.run(progress=lambda done, total: bar.update(done - bar.n), on_generation=write)
    log = evolution.to_log()
    log["clip"] = {"spec": spec.to_text(), "config": spec.config, "name": scorer.name, "input_size": scorer.input_size}
    for entry in log["generations"]:
        entry["files"] = files.get(entry["uid"], [])
    try:
        atomic_write_text(outdir / "evolution.json", json.dumps(log, indent=2, allow_nan=False) + "\n")
    except OSError as exc:
        raise CliError(f"cannot write {outdir / 'evolution.json'}: {exc.strerror or exc}") from None
    for generation in evolution.history:
        best = generation.best
        parents = ", ".join(str(i) for i in generation.parents_used) or "-"
        print(f"generation {generation.index}: best {best.score:+.4f} (#{best.id}), {len(generation)} images, "
              f"bred from {parents}")
    count = sum(len(names) for names in files.values())
    print(f"wrote {count} images in {len(evolution.history)} generations and evolution.json to {outdir} "
          f"(\"{prompt}\", {scorer.name}, {config.space.upper()} space, scored at {evolution.score_resolution} px)")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from studio.data.prepare import prepare

    clip_spec, clip_config, device = "default", None, "cpu"
    if args.clip_filter is not None:
        from studio.engine.render import pick_device
        from studio.settings import load_settings

        settings = load_settings()
        clip_spec = args.clip if args.clip is not None else settings.clip
        clip_config = args.clip_config if args.clip_config is not None else (
            settings.clip_config if args.clip is None else None)
        device = str(pick_device(args.device))
    elif args.keep is not None:
        raise CliError("--keep needs --clip-filter PHRASE (it keeps the pictures that best match the phrase)")
    bars: dict = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            for bar in bars.values():
                bar.close()
            bars[stage] = _progress(total, {"check": "check", "crop": "crop", "clip": "CLIP"}.get(stage, stage))
        bars[stage].update(done - bars[stage].n)

    try:
        report = prepare(args.src, args.dest, resolution=args.res, crop=args.crop, resample=args.resample,
                         clip_filter=args.clip_filter, keep=args.keep, clip_spec=clip_spec, clip_config=clip_config,
                         labels_from_folders=args.labels_from_folders, min_size=args.min_size,
                         max_pixels=args.max_pixels, trim_frames=args.remove_frames, force=args.force,
                         device=device, progress=progress)
    except OSError as exc:
        raise CliError(f"cannot write the dataset to {args.dest}: {exc.strerror or exc}") from None
    finally:
        for bar in bars.values():
            bar.close()
    print(report.summary())
    return 0


def cmd_procedural(args: argparse.Namespace) -> int:
    from studio.data.procedural import FAMILIES, write_dataset

    if args.count < 1:
        raise CliError(f"--count must be at least 1, got {args.count}")
    if args.res < 8:
        raise CliError(f"--res must be at least 8 pixels, got {args.res}")
    if args.start_seed < 0:
        raise CliError(f"--start-seed must be 0 or more, got {args.start_seed}")
    families = None
    if args.families:
        families = [" ".join(name.lower().replace("_", " ").replace("-", " ").split()).replace("color", "colour")
                    for name in args.families.split(",") if name.strip()]
        unknown = [name for name in families if name not in FAMILIES]
        if unknown or not families:
            raise CliError(f"unknown family {', '.join(unknown) or repr(args.families)}; "
                           f"choose from {', '.join(FAMILIES)}")
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise CliError(f"{out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not args.force:
        raise CliError(f"{out} is not empty; add --force to write the dataset into it")
    with _progress(args.count, "procedural") as bar:
        try:
            write_dataset(out, args.count, args.res, start_seed=args.start_seed, families=families,
                          progress=lambda done, total: bar.update(done - bar.n))
        except OSError as exc:
            raise CliError(f"cannot write the dataset to {out}: {exc.strerror or exc}") from None
    print(f"wrote {args.count} procedural painting{'s' * (args.count != 1)} at {args.res} px with labels and "
          f"captions to {out}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from studio.training.launch import resolve_options

    overrides = {k: getattr(args, k) for k in (
        "data", "resume", "kimg", "batch", "gamma", "aug", "target", "p", "ada_kimg", "mirror", "cond", "snap",
        "tick_kimg", "res", "preset", "lr", "pl_weight", "freeze_d", "seed", "device", "workers",
        "metrics", "metric_images", "clip", "clip_config")}
    overrides["mirror"] = True if args.mirror else None
    overrides["cond"] = True if args.cond else None
    options = resolve_options(overrides, args.outdir)
    if args.gpus > 1:
        return _train_distributed(options, args.gpus)
    from studio.training.loop import train

    print(f"training in {options.run_dir}", file=sys.stderr)

    def say(message: str) -> None:
        bar.write(message, file=sys.stderr)

    def on_event(event: dict) -> None:
        kind = event["event"]
        if kind == "log":
            say(f"{event['level']}: {event['message']}" if event["level"] != "info" else event["message"])
        elif kind == "snapshot":
            say(f"snapshot {Path(event['path']).name} ({event['kimg']:.1f} kimg)")
        elif kind == "metric":
            say(f"metrics at {event['kimg']:.1f} kimg: FD-CLIP {event['fd_clip']:.4f}, "
                f"KID-CLIP {event['kid_clip']:.5f} (std {event['kid_clip_std']:.5f})")
        elif kind == "progress" and event.get("tick_end"):
            losses = " ".join(f"{k[5:]} {event[k]:.3f}" for k in ("loss_G", "loss_D") if event.get(k) is not None)
            bar.set_postfix_str(f"{losses} p {event['p']:.3f}", refresh=False)

    import signal

    stop = {"asked": False}

    def on_sigint(signum, frame) -> None:  # first Ctrl+C: finish the step, snapshot; second: quit now
        if stop["asked"]:
            raise KeyboardInterrupt
        stop["asked"] = True
        say("stopping after this step (Ctrl+C again to quit without a snapshot)")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        with _progress(int(round(options.kimg * 1000)), "train") as bar:
            bar.unit = "img"

            def on_progress(kimg: float, total: float) -> None:
                bar.update(int(round(kimg * 1000)) - bar.n)

            result = train(options, progress_fn=on_progress, abort_fn=lambda: stop["asked"], event_fn=on_event)
    finally:
        signal.signal(signal.SIGINT, previous)
    how = "stopped" if result.reason == "stopped" else "finished"
    print(f"{how} at {result.kimg:.3f} kimg; last snapshot {result.snapshot}" if result.snapshot else
          f"{how} at {result.kimg:.3f} kimg", file=sys.stderr)
    return 0


def _train_distributed(options, gpus: int) -> int:
    """Run the worker under torchrun on ``gpus`` processes and relay its events."""
    import subprocess

    from studio.training.launch import torchrun_command, worker_env

    options.save()
    cmd = torchrun_command(options.run_dir, gpus)
    print(f"training in {options.run_dir} on {gpus} processes", file=sys.stderr)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=worker_env())
    status = "error"
    try:
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                print(line, end="", file=sys.stderr)
                continue
            kind = event.get("event")
            if kind == "log":
                print(event["message"], file=sys.stderr)
            elif kind == "progress" and event.get("tick_end"):
                print(f"{event['kimg']:.3f}/{event['total_kimg']:g} kimg  {event['images_per_s'] or 0:.1f} img/s  "
                      f"p {event['p']:.3f}", file=sys.stderr)
            elif kind == "snapshot":
                print(f"snapshot {Path(event['path']).name}", file=sys.stderr)
            elif kind == "error":
                print(f"error: {event['message']}", file=sys.stderr)
            elif kind == "done":
                status = event["reason"]
    except KeyboardInterrupt:
        proc.terminate()
    code = proc.wait()
    if code != 0 or status == "error":
        raise CliError(f"distributed training failed (exit status {code})")
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
    p.add_argument("--network", metavar="PATH", help="network file (needed without INPUT; else used if it is the recipe's model)")
    p.add_argument("--seed", type=int, default=None, metavar="N", help="seed to render (without INPUT)")
    p.add_argument("--class", dest="class_index", type=int, default=None, metavar="K",
                   help="class label for conditional models (without INPUT)")
    p.add_argument("--trunc", type=float, default=None, metavar="PSI", help="truncation psi (without INPUT; default 1)")
    p.add_argument("--noise-mode", choices=("const", "random", "none"), default="const", help=argparse.SUPPRESS)
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    p.add_argument("--aspect", metavar="RATIO",
                   help="reshape to a long:short ratio: 1.27, 4:5, 16:9, sqrt2 ... or 'painting' (a painting-like "
                        "ratio chosen from the recipe's seed)")
    p.add_argument("--orientation", choices=("landscape", "portrait"), default=None,
                   help="orientation of --aspect (default landscape; 'painting' picks one)")
    p.add_argument("--mode", choices=("stretch", "crop", "pad"), default="stretch",
                   help="how the image reaches the new shape (default stretch)")
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
    p.add_argument("--out", metavar="FILE", help="output file (default: INPUT's name + '-print' in this folder)")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("rank", help="rank seeds by how well they match a prompt (CLIP)", description=(
        "Render the seeds, score each image against the prompt with CLIP and keep the best: writes "
        "rank01-seedNNNN.png ... at full resolution (each with its recipe) and ranking.json (prompt, seeds, "
        "scores, CLIP). Scoring renders only up to a preview resolution when the model allows (--score-res)."))
    _add_render_options(p)
    p.add_argument("--prompt", required=True, help='what the images should show, e.g. "impressionist painting of autumn trees"')
    p.add_argument("--negative", default=None, metavar="TEXT", help="a prompt to steer away from (its score is subtracted)")
    p.add_argument("--negative-weight", type=float, default=1.0, metavar="W",
                   help="how much the negative prompt counts (default 1)")
    p.add_argument("--seeds", default="0-999", help="seeds to try (default 0-999)")
    p.add_argument("--top", type=int, default=6, metavar="K", help="how many images to keep (default 6)")
    p.add_argument("--clip", default=None, metavar="SPEC",
                   help="default, an open_clip NAME:TAG (e.g. ViT-B-32:laion2b_s34b_b79k) or a checkpoint file or "
                        "folder (default: the 'clip' setting)")
    p.add_argument("--clip-config", default=None, metavar="JSON|NAME",
                   help="the checkpoint's architecture: an open_clip config JSON or model name such as ViT-B-32")
    p.add_argument("--score-res", type=int, default=256, metavar="PX",
                   help="render at least this size for scoring, stopping early when the model allows "
                        "(default 256; 0 = full resolution)")
    p.add_argument("--outdir", default="out", help="output folder (default: out)")
    p.set_defaults(func=cmd_rank)

    p = sub.add_parser("evolve", help="evolve images towards a prompt (genetic algorithm + CLIP)", description=(
        "MAGnet's genetic algorithm: render a random population, score it against the prompt with CLIP, keep the "
        "best parents and breed every ordered pair of them ((1 - r) * parent_i + r * parent_j + mutation noise), "
        "generation after generation. Writes genNN/rankMM.png (best first, each with its recipe) and "
        "evolution.json (settings, every individual's scores, the parents of each generation)."))
    _add_render_options(p)
    p.add_argument("--prompt", required=True, help='what to evolve towards, e.g. "an abstract painting with orange triangles"')
    p.add_argument("--negative", default=None, metavar="TEXT", help="a prompt to steer away from (its score is subtracted)")
    p.add_argument("--negative-weight", type=float, default=1.0, metavar="W",
                   help="how much the negative prompt counts (default 1)")
    p.add_argument("--realness", type=float, default=0.0, metavar="W",
                   help="add W x the discriminator's realness (0-1) to the score; needs a network file with its "
                        "discriminator (default 0: off)")
    p.add_argument("--generations", type=int, default=5, metavar="N", help="generations after the first (default 5)")
    p.add_argument("--population", type=int, default=200, metavar="N", help="random images in the first generation (default 200)")
    p.add_argument("--parents", type=int, default=4, metavar="K",
                   help="best images kept per generation; each generation is K parents + K*K children (default 4)")
    p.add_argument("--recombination", type=float, default=0.333, metavar="R",
                   help="crossover weight r of the second parent, 0-1 (default 0.333)")
    p.add_argument("--mutation", type=float, default=0.25, metavar="M",
                   help="mutation noise, in units of the latent's spread (default 0.25)")
    p.add_argument("--space", choices=("w", "z"), default="w",
                   help="evolve w (default: crossover stays on the image manifold) or z (as MAGnet did)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed: the same seed gives the same run (default 0)")
    p.add_argument("--keep", type=int, default=None, metavar="K",
                   help="images written per generation, best first (default K + K*K, e.g. 20; 0 = all)")
    p.add_argument("--clip", default=None, metavar="SPEC",
                   help="default, an open_clip NAME:TAG (e.g. ViT-B-32:laion2b_s34b_b79k) or a checkpoint file or "
                        "folder (default: the 'clip' setting)")
    p.add_argument("--clip-config", default=None, metavar="JSON|NAME",
                   help="the checkpoint's architecture: an open_clip config JSON or model name such as ViT-B-32")
    p.add_argument("--score-res", type=int, default=256, metavar="PX",
                   help="render at least this size for scoring, stopping early when the model allows "
                        "(default 256; 0 = full resolution)")
    p.add_argument("--outdir", required=True, help="output folder")
    p.set_defaults(func=cmd_evolve)

    p = sub.add_parser("prepare", help="prepare a folder of pictures as a training set", description=(
        "Scan SRC recursively (never modifying it), decode every picture (EXIF orientation honoured; CMYK, "
        "greyscale, palette, 16-bit and transparent images made RGB), skip and list unusable files with the "
        "reason, crop and resize to --res, and write DEST in the layout of NVIDIA's dataset_tool.py "
        "(00000/img00000000.png ..., dataset.json) plus studio-dataset.json and report.json. With "
        "--clip-filter, CLIP keeps the crops that best match the phrase; the rest are copied to DEST/rejected."))
    p.add_argument("src", help="folder of pictures (searched recursively)")
    p.add_argument("dest", help="output folder (must be empty or new)")
    p.add_argument("--res", type=int, required=True, metavar="PX", help="image size, a power of two (e.g. 256, 512, 1024)")
    p.add_argument("--crop", choices=("square", "rect", "three", "pad", "stretch"), default="square",
                   help="square: centre square (default); rect: centre rectangle at the dataset's mean aspect ratio, "
                        "squeezed (GANscapes; the ratio is recorded); three: left/centre/right or top/centre/bottom "
                        "squares (MAGnet); pad: letterbox; stretch: squeeze the whole picture")
    p.add_argument("--resample", choices=("lanczos", "box"), default="lanczos", help="resampling filter (default lanczos)")
    p.add_argument("--remove-frames", action="store_true", help="trim picture frames and uniform borders first")
    p.add_argument("--labels-from-folders", action="store_true",
                   help="label each picture with its sub-folder's name (e.g. genres) for conditional training")
    p.add_argument("--min-size", type=int, default=None, metavar="PX",
                   help="skip pictures whose short side is smaller (default: half of --res)")
    p.add_argument("--max-pixels", type=int, default=None, metavar="N",
                   help="skip larger pictures as decompression bombs (default: Pillow's limit)")
    p.add_argument("--clip-filter", default=None, metavar="PHRASE",
                   help='keep the crops that best match PHRASE, e.g. "impressionist landscape painting"')
    p.add_argument("--keep", default=None, metavar="N|X%", help="with --clip-filter: keep the best N or X%% (default 90%%)")
    p.add_argument("--clip", default=None, metavar="SPEC",
                   help="default, an open_clip NAME:TAG or a checkpoint file or folder (default: the 'clip' setting)")
    p.add_argument("--clip-config", default=None, metavar="JSON|NAME",
                   help="the checkpoint's architecture: an open_clip config JSON or model name such as ViT-B-32")
    p.add_argument("--device", default="auto", help="where CLIP runs: auto (default), cpu, cuda or mps")
    p.add_argument("--force", action="store_true", help="allow a non-empty DEST; replaces only the studio's own files")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("procedural", help="paint a labelled, captioned dataset of abstract paintings", description=(
        "Paint COUNT procedural abstract paintings (seeds START-SEED onwards; families geometric, grid, colour field, "
        "gestural, radial, biomorphic in turn) and write OUT in the prepared-dataset layout: 00000/img00000000.png "
        "..., dataset.json with each image's family label, studio-dataset.json, and captions.jsonl with a caption "
        "and attributes per image. The same seeds always give the same images."))
    p.add_argument("--count", type=int, required=True, metavar="N", help="number of images")
    p.add_argument("--res", type=int, default=128, metavar="PX", help="image size in pixels (default 128)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (must be empty or new)")
    p.add_argument("--start-seed", type=int, default=0, metavar="S", help="seed of the first image (default 0)")
    p.add_argument("--families", default=None, metavar="LIST",
                   help='comma-separated families to cycle through (default: all), e.g. "grid,radial"')
    p.add_argument("--force", action="store_true", help="write into a non-empty OUT (replacing its files)")
    p.set_defaults(func=cmd_procedural)
    p = sub.add_parser("train", help="train or fine-tune a StyleGAN2-ADA model on a prepared dataset", description=(
        "Train a StyleGAN2 generator with adaptive discriminator augmentation (ADA) on a folder made by "
        "`studio prepare`. Each run gets its own folder in --outdir (NNNNN-<dataset>-<preset>) with "
        "training_options.json, stats.jsonl, reals.png, and every --snap ticks a snapshot "
        "(network-snapshot-KKKKKK.safetensors, openable like any model) with a preview grid of fixed seeds. "
        "--resume latest continues the newest run in --outdir exactly (kimg, ADA p, optimiser, EMA); "
        "--resume FILE continues a snapshot, or fine-tunes any other network (NVIDIA .pkl, rosinality .pt, "
        "studio .safetensors). Ctrl+C stops after the current step and writes a snapshot; so does a file named "
        "STOP in the run folder."))
    p.add_argument("--data", default=None, metavar="DIR", help="prepared dataset folder (or zip)")
    p.add_argument("--outdir", default="training-runs", metavar="RUNS", help="folder of runs (default: training-runs)")
    p.add_argument("--resume", default=None, metavar="PATH|latest",
                   help="'latest' (newest run in --outdir) or a network file to continue / fine-tune from")
    p.add_argument("--kimg", type=float, default=None, help="length of the run in thousands of images (default 1000)")
    p.add_argument("--batch", type=int, default=None, metavar="N", help="images per step, a multiple of 4 (default 16)")
    p.add_argument("--gamma", type=float, default=None, help="R1 weight (default: 0.0002 * res^2 / batch)")
    p.add_argument("--aug", choices=("ada", "noaug", "fixed"), default=None,
                   help="ada: adaptive augmentation (default); fixed: keep --p; noaug: none")
    p.add_argument("--target", type=float, default=None, help="ADA target for sign(D(real)) (default 0.6; MachineRay 2 used 0.7)")
    p.add_argument("--p", type=float, default=None, help="initial augmentation probability (default 0)")
    p.add_argument("--ada-kimg", type=float, default=None, metavar="KIMG",
                   help="kimg for p to move by 1 (default 500, 100 when resuming)")
    p.add_argument("--mirror", action="store_true", help="random left-right flips of the training images")
    p.add_argument("--cond", action="store_true", help="conditional training from the dataset's labels")
    p.add_argument("--snap", type=int, default=None, metavar="TICKS", help="snapshot every N ticks (default 10)")
    p.add_argument("--tick", dest="tick_kimg", type=float, default=None, metavar="KIMG",
                   help="kimg per tick: progress line and stats.jsonl entry (default 4)")
    p.add_argument("--res", type=int, default=None, metavar="PX", help="training resolution (default: the dataset's)")
    p.add_argument("--preset", default=None, choices=("small", "default-abstract", "auto", "paper256", "dcgan"),
                   help="network size (default default-abstract; small for CPUs); dcgan: a DCGAN instead of "
                        "StyleGAN2 (64 or 128 px, BCE, Adam 2e-4 / beta1 0.5) for quick sketches on tiny datasets")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default 0.0025; 0.0002 with --preset dcgan)")
    p.add_argument("--pl-weight", type=float, default=None, metavar="W", help="path-length regularisation (default 0 = off)")
    p.add_argument("--freeze-d", type=int, default=None, metavar="N", help="freeze the first N discriminator blocks")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="data-loading processes (default 2)")
    p.add_argument("--metrics", action=argparse.BooleanOptionalAction, default=None,
                   help="at each snapshot, FD-CLIP and KID-CLIP (Frechet / kernel distance of CLIP image features "
                        "of real and generated images; not Inception FID) into metrics.jsonl (default: on)")
    p.add_argument("--metric-images", type=int, default=None, metavar="N",
                   help="real and generated images for the metrics (default 1000)")
    p.add_argument("--clip", default=None, metavar="SPEC",
                   help="CLIP for the metrics: default, NAME:TAG or a checkpoint (default: the settings' CLIP)")
    p.add_argument("--clip-config", default=None, metavar="ARCH",
                   help="the --clip checkpoint's architecture: config JSON or open_clip model name")
    p.add_argument("--gpus", type=int, default=1, metavar="N", help="processes / GPUs, run under torchrun (default 1)")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda or mps")
    p.set_defaults(func=cmd_train)
    return parser


def _version() -> str:
    from studio import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = {"generate", "mix", "interpolate", "info", "convert", "export", "rank", "evolve", "prepare", "procedural", "train"}
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
