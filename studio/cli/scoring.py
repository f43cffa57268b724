"""CLIP commands: rank and evolve."""

from __future__ import annotations

import argparse
import json

from studio.cli.common import (
    CliError,
    add_clip_options,
    add_prompt_options,
    add_render_options,
    check_prompt,
    clip_choice,
    network_file,
    open_renderer,
    output_dir,
    progress_bar,
    render_settings,
    save_png,
)


def cmd_rank(args: argparse.Namespace) -> int:
    from studio.clip.model import ClipSpec, load_clip
    from studio.clip.rank import rank_seeds, scoring_resolution
    from studio.core.atomic import atomic_write_text
    from studio.core.device import pick_device
    from studio.gan.latents import parse_seeds

    seeds = parse_seeds(args.seeds)
    prompt = args.prompt.strip()
    if not prompt:
        raise CliError('--prompt is empty: say what the images should show, e.g. --prompt "autumn trees"')
    if args.top < 1:
        raise CliError(f"--top must be at least 1, got {args.top}")
    if args.score_res < 0:
        raise CliError(f"--score-res must be 0 (full resolution) or a size in pixels, got {args.score_res}")
    spec = ClipSpec.parse(*clip_choice(args))
    scorer = load_clip(spec, device=pick_device(args.device))   # before the network: fail fast
    renderer = open_renderer(args)
    negative = (args.negative or "").strip() or None
    check_prompt(args, scorer, renderer.network, prompt, negative)
    settings = render_settings(args, renderer)
    outdir = output_dir(args.outdir)
    score_res = args.score_res or None
    with progress_bar(len(seeds), "rank") as bar:
        def advance(done: int, total: int) -> None:
            bar.total = total                       # a previewed ranking adds its re-scored shortlist
            bar.update(done - bar.n)

        top = rank_seeds(renderer, scorer, prompt, seeds, top_k=args.top, negative=negative,
                         negative_weight=args.negative_weight, settings=settings, score_resolution=score_res,
                         preview_resolution=args.preview or None, rescore=args.rescore, progress=advance)
    images = dict(renderer.render_seeds([seed for seed, _ in top], settings))   # the winners at full size
    entries = []
    for rank, (seed, score) in enumerate(top, 1):
        name = f"rank{rank:02d}-seed{seed:04d}.png"
        save_png(outdir / name, images[seed], renderer.recipe(settings, seed=seed))
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
    from studio.app.evolution import new_evolution
    from studio.clip.model import ClipSpec, load_clip
    from studio.core.atomic import atomic_write_text
    from studio.core.device import pick_device
    from studio.evolve.ga import EvolveConfig
    from studio.gan.formats import load_network
    from studio.gan.render import Renderer

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
        preview_resolution=args.preview or None, rescore=args.rescore,
    )
    device = pick_device(args.device)
    spec = ClipSpec.parse(*clip_choice(args))
    scorer = load_clip(spec, device=device)   # before the network: fail fast
    network = load_network(network_file(args.network), device=device, with_discriminator=bool(args.realness))
    renderer = Renderer(network, device=device, batch_size=args.batch)
    negative = (args.negative or "").strip() or None
    check_prompt(args, scorer, network, prompt, negative)
    evolution = new_evolution(renderer, scorer, prompt, negative, config, render_settings(args, renderer))
    outdir = output_dir(args.outdir)
    keep = config.generation_size if args.keep is None else args.keep or None   # None: every image
    files: dict[int, list[str]] = {}

    def write(generation) -> None:
        kept = generation.individuals[:keep] if keep else generation.individuals
        folder = output_dir(str(outdir / f"gen{generation.index:02d}"))
        width = max(2, len(str(len(kept))))
        names = []
        for rank, (ind, image) in enumerate(zip(kept, evolution.render_full(kept)), 1):
            name = f"rank{rank:0{width}d}.png"
            save_png(folder / name, image, evolution.recipe_for(ind))
            names.append(f"{folder.name}/{name}")
        files[generation.uid] = names

    with progress_bar(evolution.planned_images(), "evolve") as bar:
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
    generations = len(evolution.history)
    print(f"wrote {count} images in {generations} generation{'s' * (generations != 1)} and evolution.json to {outdir} "
          f"(\"{prompt}\", {scorer.name}, {config.space.upper()} space, scored at {evolution.score_resolution} px)")
    return 0


def add_parsers(sub) -> None:
    """Subcommands: rank, evolve."""
    p = sub.add_parser("rank", help="rank seeds by how well they match a prompt (CLIP)", description=(
        "Render the seeds, score each image against the prompt with CLIP and keep the best: writes "
        "rank01-seedNNNN.png ... at full resolution (each with its recipe) and ranking.json (prompt, seeds, "
        "scores, CLIP). Scoring renders only up to a preview resolution when the model allows (--score-res)."))
    add_render_options(p)
    add_prompt_options(p, "impressionist painting of autumn trees")
    p.add_argument("--seeds", default="0-999", help="seeds to try (default 0-999)")
    p.add_argument("--top", type=int, default=6, metavar="K", help="how many images to keep (default 6)")
    add_clip_options(p)
    p.add_argument("--score-res", type=int, default=256, metavar="PX",
                   help="render at least this size for scoring, stopping early when the model allows "
                        "(default 256; 0 = full resolution)")
    p.add_argument("--preview", type=int, default=0, metavar="PX",
                   help="score every seed from this smaller early exit (e.g. 128), then the best --rescore again "
                        "at the scoring size (default 0: off)")
    p.add_argument("--rescore", type=int, default=16, metavar="N", help="with --preview: how many are scored again")
    p.add_argument("--outdir", default="out", help="output folder (default: out)")
    p.set_defaults(func=cmd_rank)

    p = sub.add_parser("evolve", help="evolve images towards a prompt (genetic algorithm + CLIP)", description=(
        "MAGnet's genetic algorithm: render a random population, score it against the prompt with CLIP, keep the "
        "best parents and breed every ordered pair of them ((1 - r) * parent_i + r * parent_j + mutation noise), "
        "generation after generation. Writes genNN/rankMM.png (best first, each with its recipe) and "
        "evolution.json (settings, every individual's scores, the parents of each generation)."))
    add_render_options(p)
    add_prompt_options(p, "an abstract painting with orange triangles")
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
    add_clip_options(p)
    p.add_argument("--score-res", type=int, default=256, metavar="PX",
                   help="render at least this size for scoring, stopping early when the model allows "
                        "(default 256; 0 = full resolution)")
    p.add_argument("--preview", type=int, default=0, metavar="PX",
                   help="score the initial population from this smaller early exit (e.g. 128), then its best "
                        "--rescore again at the score resolution (default 0: off; benchmarks/evolve_preview.py "
                        "measures how well the two rankings agree)")
    p.add_argument("--rescore", type=int, default=16, metavar="N",
                   help="with --preview: how many of the best are scored again (default 16)")
    p.add_argument("--outdir", required=True, help="output folder")
    p.set_defaults(func=cmd_evolve)
