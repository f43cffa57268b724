"""Jobs for the inference thread: thin closures over :mod:`studio.app` calls, built on the UI thread.

Nothing here runs torch on the UI thread: the app and engine modules are imported inside the job
bodies, which execute on the worker. What crosses is plain data: render settings as
:class:`~studio.gan.render_settings.RenderSettings` (no torch), recipes as JSON, sources as
``{"seed": n}`` / ``{"recipe": json}``.
"""

from __future__ import annotations

from typing import Any, Sequence

from studio.gan.render_settings import RenderSettings
from studio.ui.inference import Job, JobContext


def load_model(source: str) -> Job:
    """Open a network file or URL and make it the worker's current model. A download reports its
    progress in KiB and stops when the job is cancelled; the result's ``warnings`` says what the
    download noticed (a file that differs from the one first downloaded from its URL)."""

    def job(ctx: JobContext) -> dict:
        from studio.app.models import model_info, open_source
        from studio.gan.formats import load_network

        def progress(done: int, total: int | None) -> None:
            # in KiB: a signal's int is 32 bits, and a network file can be larger than 2 GiB
            ctx.emit_progress(done // 1024, (total or 0) // 1024)

        warnings: list[str] = []
        path = open_source(source, progress=progress, should_cancel=ctx.cancelled, warn=warnings.append)
        network = load_network(path, device=ctx.state.device)
        ctx.state.renderer = _renderer(ctx, network, warnings)
        return model_info(ctx.state.renderer) | {"warnings": warnings}

    return job


def load_model_for_recipe(recipe_json: str, library_path: str | None, given: str | None = None) -> Job:
    """Find and open the model a recipe names (the one rule of :func:`studio.app.models.find_model`);
    ``given`` is a file the artist chose for it."""

    def job(ctx: JobContext) -> dict:
        from studio.app.models import find_model, model_info
        from studio.core.errors import StudioError
        from studio.gan.recipe import Recipe

        recipe = Recipe.from_json(recipe_json)
        search = find_model(recipe, given=given, library=library_path, device=ctx.state.device)
        if search.network is None:
            why = f" ({search.notes[0]})" if search.notes else ""
            raise StudioError(f"This image needs the model '{recipe.model.name or 'unnamed'}' (fingerprint "
                              f"{recipe.model.fingerprint[:12]}…), which the studio cannot find{why}; open it first.")
        warnings: list[str] = []
        ctx.state.renderer = _renderer(ctx, search.network, warnings)
        return model_info(ctx.state.renderer) | {"warnings": warnings}

    return job


def _renderer(ctx: JobContext, network, warnings: list[str]):
    """The worker's renderer of ``network`` with the chosen backend; PyTorch, with a note, where that
    backend cannot render this network."""
    from studio.gan.render import Renderer

    try:
        return Renderer(network, device=ctx.state.device, backend=ctx.state.backend)
    except Exception as exc:  # noqa: BLE001 - whatever the backend's trouble, the model still opens
        if ctx.state.backend == "torch":
            raise
        warnings.append(f"{exc}; rendering with PyTorch")
        return Renderer(network, device=ctx.state.device)


def set_backend(backend: str) -> Job:
    """Choose what renders; the open model (if any) is set up again with it. Returns its model info
    (or None without a model)."""

    def job(ctx: JobContext) -> dict | None:
        from studio.app.models import model_info

        ctx.state.backend = backend
        if ctx.state.renderer is None:
            return None
        warnings: list[str] = []
        ctx.state.renderer = _renderer(ctx, ctx.state.renderer.network, warnings)
        return model_info(ctx.state.renderer) | {"warnings": warnings}

    return job


def render_seeds(seeds: Sequence[int], settings: RenderSettings) -> Job:
    """Stream one image per seed (tag = seed), cancelling between batches."""
    seeds = list(seeds)

    def job(ctx: JobContext) -> int:
        r = ctx.renderer
        done = 0
        for seed, image in r.render_seeds(seeds, settings, should_cancel=ctx.cancelled):
            ctx.emit_image(seed, image)
            done += 1
            ctx.emit_progress(done, len(seeds))
        return done

    return job


def render_class_rows(seeds: Sequence[int], classes: Sequence[int], settings: RenderSettings) -> Job:
    """The same seeds in every class, a row each: tags (class, seed), class by class."""
    seeds, classes = list(seeds), list(classes)

    def job(ctx: JobContext) -> int:
        from dataclasses import replace

        done, total = 0, len(seeds) * len(classes)
        for k in classes:
            for seed, image in ctx.renderer.render_seeds(seeds, replace(settings, class_index=k),
                                                         should_cancel=ctx.cancelled):
                ctx.emit_image((k, seed), image)
                done += 1
                ctx.emit_progress(done, total)
            if ctx.cancelled():
                break
        return done

    return job


def render_recipe(recipe_json: str, tag: Any = None) -> Job:
    """Re-create one image from its recipe (tag defaults to the recipe's seed)."""

    def job(ctx: JobContext) -> str:
        from studio.gan.recipe import Recipe

        recipe = Recipe.from_json(recipe_json)
        r = ctx.renderer
        r.check_recipe(recipe)
        ctx.emit_image(tag if tag is not None else recipe.seed, r.render_recipe(recipe), recipe_json)
        return recipe_json

    return job


def save_recipe_png(recipe_json: str, path: str) -> Job:
    """Render a recipe and write it as a PNG that carries the recipe; returns the path."""

    def job(ctx: JobContext) -> str:
        from studio.gan.recipe import Recipe
        from studio.imaging.metadata import save_png

        recipe = Recipe.from_json(recipe_json)
        ctx.renderer.check_recipe(recipe)
        save_png(path, ctx.renderer.render_recipe(recipe), recipe)
        return path

    return job


def render_mix_matrix(forms: Sequence[dict], styles: Sequence[dict], layers: Sequence[int],
                      settings: RenderSettings, skip: Sequence[tuple] = ()) -> Job:
    """The forms x styles matrix: streams the sources (tags ('form', i), ('style', j)) and every
    cell (tag ('cell', i, j)) with its recipe JSON as extra, except the tags in ``skip``."""

    def job(ctx: JobContext) -> int:
        from studio.app.mixing import Source, mix_matrix

        done = 0
        for item in mix_matrix(ctx.renderer, [Source.from_spec(f) for f in forms],
                               [Source.from_spec(s) for s in styles], layers, settings, skip=set(skip),
                               progress=ctx.emit_progress, should_cancel=ctx.cancelled):
            ctx.emit_image(item.tag, item.image, item.recipe.to_json())
            done += item.tag[0] == "cell"
        return done

    return job


def render_interpolation(keyframes: Sequence[dict], frames: int, *, space: str, loop: bool, settings: RenderSettings,
                         easing: str = "linear") -> Job:
    """Stream an interpolation strip (tag = frame index)."""

    def job(ctx: JobContext) -> int:
        from studio.app import interpolation
        from studio.app.mixing import Source

        count = 0

        def progress(done: int, total: int) -> None:
            ctx.emit_progress(done, total)

        for count, image in enumerate(interpolation.frames(
                ctx.renderer, [Source.from_spec(k) for k in keyframes], frames, space=space, loop=loop,
                settings=settings, easing=easing, progress=progress, should_cancel=ctx.cancelled), start=1):
            ctx.emit_image(count - 1, image)
        return count

    return job


def export_interpolation(keyframes: Sequence[dict], frames: int, *, space: str, loop: bool, settings: RenderSettings,
                         out: str, fps: int, easing: str = "linear", long_side: int | None = None,
                         upscaler: str = "lanczos") -> Job:
    """Render and write an interpolation to a video, GIF or folder of frames (with progress)."""

    def job(ctx: JobContext) -> str:
        from studio.app import interpolation
        from studio.app.mixing import Source

        interpolation.write(ctx.renderer, [Source.from_spec(k) for k in keyframes], frames, out, space=space,
                            loop=loop, settings=settings, easing=easing, fps=fps, long_side=long_side,
                            upscaler=upscaler, progress=ctx.emit_progress, should_cancel=ctx.cancelled)
        return out

    return job


def write_mix_sheet(forms, styles, cells, cell_size: tuple[int, int], path: str) -> Job:
    """Write the labelled forms x styles sheet (F1.. across, S1.. down) as a PNG."""

    def job(ctx: JobContext) -> str:
        from studio.app.mixing import write_sheet

        return write_sheet(path, forms, styles, cells, across_labels=[f"F{i + 1}" for i in range(len(forms))],
                           down_labels=[f"S{j + 1}" for j in range(len(styles))], cell_size=cell_size)

    return job


def export_preview(recipe_json: str, passes: Sequence[dict], final_size_text: str) -> Job:
    """Before / after of the first image: the render, and the post-processing at preview size."""

    def job(ctx: JobContext) -> None:
        from studio.app.export import preview
        from studio.gan.recipe import Recipe
        from studio.imaging.postprocess import PostProcess

        steps = [PostProcess.from_dict(spec) for spec in passes]
        for tag, image, notes in preview(ctx.renderer, Recipe.from_json(recipe_json), steps, ctx.cancelled):
            ctx.emit_image(tag, image, "; ".join([final_size_text] + notes) if tag == "after" else None)

    return job


def export_batch(recipe_jsons: Sequence[str], passes: Sequence[dict], export: dict, folder: str,
                 name_pattern: str) -> Job:
    """Re-render each recipe, post-process and write it; returns one report dict per file."""

    def job(ctx: JobContext) -> list[dict]:
        from studio.app.export import export_prints
        from studio.gan.recipe import Recipe
        from studio.imaging.export import ExportSettings
        from studio.imaging.postprocess import PostProcess

        reports = export_prints(ctx.renderer, [Recipe.from_json(text) for text in recipe_jsons], folder,
                                passes=[PostProcess.from_dict(p) for p in passes],
                                settings=ExportSettings.from_dict(export), name_pattern=name_pattern,
                                progress=ctx.emit_progress, should_cancel=ctx.cancelled)
        return [{"path": str(report.path), "width": report.size[0], "height": report.size[1],
                 "upscaler": report.upscaler, "notes": report.notes,
                 "repeat_path": str(report.repeat_path) if report.repeat_path else None} for report in reports]

    return job


# -- CLIP, ranking and evolution ---------------------------------------------------------------------

def _clip(ctx: JobContext, spec: str, config: str | None):
    """The CLIP named by ``spec``, loaded once per worker and kept."""
    from studio.clip.model import load_clip

    cache = ctx.state.extras.setdefault("clip", {})
    key = (spec, config)
    if key not in cache:
        cache.clear()  # one CLIP in memory at a time
        cache[key] = load_clip(spec, ctx.state.device, config=config)
    return cache[key]


def rank_prompt(prompt: str, negative: str | None, seeds: Sequence[int], top_k: int, settings: RenderSettings,
                clip_spec: str, clip_config: str | None) -> Job:
    """GANscapes' "generate many, keep the best": streams the running top-K as messages
    ({'top': [(seed, score), ...]}) and their images (tag = seed, extra = score)."""

    def job(ctx: JobContext) -> list:
        from studio.clip.rank import rank_seeds

        r = ctx.renderer
        scorer = _clip(ctx, clip_spec, clip_config)
        shown: dict[int, float] = {}

        def on_update(top) -> None:
            ctx.emit({"top": list(top)})
            for seed, score in top:           # the best so far appear as they are found, not at the end
                if seed not in shown and not ctx.cancelled():
                    for _, image in r.render_seeds([seed], settings):
                        ctx.emit_image(seed, image, score)
                    shown[seed] = score

        def progress(done: int, total: int) -> None:
            ctx.emit_progress(done, total)

        top = rank_seeds(r, scorer, prompt, list(seeds), top_k=top_k, negative=negative or None, settings=settings,
                         progress=progress, should_cancel=ctx.cancelled, on_update=on_update)
        if ctx.cancelled():
            return top
        ctx.emit({"top": list(top), "final": True})
        for seed, score in top:
            if seed not in shown:
                for _, image in r.render_seeds([seed], settings):
                    ctx.emit_image(seed, image, score)
                shown[seed] = score
        return top

    return job


def _payload(evo, generation) -> dict:
    from studio.app.evolution import generation_payload

    return generation_payload(evo, generation)


def _emit_generation(ctx: JobContext, evo, generation) -> None:
    for ind in generation.individuals:
        if ind.image is not None:
            ctx.emit_image(ind.id, ind.image, {"score": ind.score, "recipe": evo.recipe_for(ind).to_json()})


def evolve_start(config: dict, prompt: str, negative: str | None, clip_spec: str, clip_config: str | None,
                 settings: RenderSettings) -> Job:
    """Create a new evolution on the worker (with the panel's truncation, class and noise) and
    score its initial population."""

    def job(ctx: JobContext) -> dict:
        from studio.app.evolution import new_evolution
        from studio.evolve.ga import EvolveConfig

        cfg = EvolveConfig.from_dict(config)
        evo = new_evolution(ctx.renderer, _clip(ctx, clip_spec, clip_config), prompt, negative, cfg,
                            settings)
        ctx.state.extras["evolution"] = evo

        def progress(done: int, _total: int) -> None:
            ctx.emit_progress(done, cfg.population)

        def on_individual(ind) -> None:
            ctx.emit_image(ind.id, ind.image, {"score": ind.score, "recipe": evo.recipe_for(ind).to_json()})

        generation = evo.start(progress=progress, should_cancel=ctx.cancelled, on_individual=on_individual)
        return _payload(evo, generation)

    return job


def _need_evolution(ctx: JobContext):
    evo = ctx.state.extras.get("evolution")
    if evo is None or evo.renderer is not ctx.state.renderer:
        raise ValueError("start an evolution first")
    return evo


def evolve_next(parents: Sequence[int] | None, locked: Sequence[int], extra_recipes: Sequence[str],
                generations: int = 1) -> Job:
    """Breed ``generations`` generations: the first from the artist's parents (and brought-in
    favourites), the rest from the suggestions ("Run to end")."""

    def job(ctx: JobContext) -> dict:
        from studio.gan.recipe import Recipe

        evo = _need_evolution(ctx)
        extras = [Recipe.from_json(text) for text in extra_recipes]
        generation = None
        for step in range(generations):
            if ctx.cancelled():
                break

            def progress(done: int, total: int) -> None:
                ctx.emit_progress(done, total)

            generation = evo.next_generation(
                parents if step == 0 else None, locked=list(locked), extra_parents=extras if step == 0 else (),
                progress=progress, should_cancel=ctx.cancelled)
            _emit_generation(ctx, evo, generation)
            ctx.emit(_payload(evo, generation))
        return _payload(evo, generation or evo.current)

    return job


def evolve_branch(uid: int) -> Job:
    """Go to generation ``uid`` of any branch (its line becomes the active one) and show it."""

    def job(ctx: JobContext) -> dict:
        evo = _need_evolution(ctx)
        generation = evo.switch_to(uid)
        _emit_generation(ctx, evo, generation)
        return _payload(evo, generation)

    return job


def evolve_full_image(ident: int) -> Job:
    """A full-resolution render of one individual (the grid shows score-resolution previews)."""

    def job(ctx: JobContext) -> None:
        evo = _need_evolution(ctx)
        ind = evo.individual(ident)
        ctx.emit_image(ident, evo.render_full([ind])[0], {"score": ind.score, "full": True})

    return job


# -- dataset preparation (Train tab) -------------------------------------------------------------------

def prepare_preview(src: str, crop: str, resolution: int, count: int = 4, trim_frames: bool = False) -> Job:
    """A few source pictures ('before', i) and their crops ('after', i) as preparation would make them."""

    def job(ctx: JobContext) -> dict:
        from studio.app.prepare import preview

        found, ratio, pairs = preview(src, crop, resolution, count, trim_frames=trim_frames,
                                      should_cancel=ctx.cancelled)
        shown = 0
        for pair in pairs:
            if pair.problem is not None:
                ctx.emit({"skipped": f"{pair.name}: {pair.problem}"})
                continue
            ctx.emit_image(("before", shown), pair.before, pair.name)
            ctx.emit_image(("after", shown), pair.after, pair.name)
            shown += 1
        return {"files": found, "aspect_ratio": ratio}

    return job


def prepare_dataset(src: str, dest: str, options: dict) -> Job:
    """Run ``studio prepare`` on the worker thread with progress; returns the report's summary."""

    def job(ctx: JobContext) -> dict:
        from studio.app.prepare import prepare

        stages = {"check": 0, "crop": 1, "clip": 2}

        def progress(stage: str, done: int, total: int) -> None:
            ctx.emit_progress(done, total)
            ctx.emit({"stage": stage, "done": done, "total": total, "step": stages.get(stage, 0)})

        report = prepare(src, dest, progress=progress, should_cancel=ctx.cancelled, **options)
        return {"summary": report.summary(), "out": str(report.out), "count": report.count,
                "skipped": len(report.skipped)}

    return job


def find_directions(method: str, layers_key: str, count: int, class_index: int | None) -> Job:
    """The open model's top directions as plain data for the Edit box: ``[{name, vector (scaled by its
    sigma), sigma, layers}]`` (GANSpace with progress, from the cache when it was found before)."""

    def job(ctx: JobContext) -> list[dict]:
        from studio.app.edits import find_directions as find, parse_layers

        r = ctx.renderer
        layers = parse_layers(None if layers_key == "all" else layers_key, r)
        found = find(r, method, layers=layers, count=count, class_index=class_index,
                     progress=ctx.emit_progress, should_cancel=ctx.cancelled)
        if found is None:
            return []
        return [{"name": d.name, "vector": (d.vector * d.sigma).astype("float32"), "sigma": d.sigma,
                 "layers": d.layers} for d in found.directions]

    return job


def project_picture(path: str, fit: str, space: str, steps: int, start_seeds: int, class_index: int | None,
                    clip_spec: str | None = None, clip_config: str | None = None, clip_weight: float = 0.5) -> Job:
    """Project a picture file into the open model: emits the fitted target (tag "target") and the
    current image now and then (tag "current"), progress; returns the recipe and figures."""

    def job(ctx: JobContext) -> dict:
        from studio.app import projection
        from studio.gan.render_settings import RenderSettings

        r = ctx.renderer
        picture = projection.read_picture(path, r.G.img_resolution, fit)
        ctx.emit_image("target", picture)
        settings = RenderSettings(class_index=class_index)
        clip = None
        if clip_spec and clip_weight > 0:
            from studio.clip.model import load_clip

            try:
                clip = load_clip(clip_spec, config=clip_config)
            except Exception as exc:  # noqa: BLE001 - the projection goes on without CLIP, saying why
                ctx.emit(f"projecting without CLIP ({exc})")
        result = projection.run(r, picture, settings, space=space, steps=steps, start_seeds=start_seeds,
                                clip=clip, clip_weight=clip_weight if clip is not None else 0.0,
                                progress=ctx.emit_progress, should_cancel=ctx.cancelled,
                                on_preview=lambda step, image: ctx.emit_image("current", image, step))
        if result is None:
            return {}
        ctx.emit_image("current", result.image, steps)
        recipe = r.recipe(settings, w=result.w)
        return {"recipe": recipe.to_json(), "psnr": result.psnr, "ms_ssim": result.ms_ssim,
                "seconds": result.seconds, "space": space}

    return job


def _as_sliders(found) -> list[dict]:
    if found is None:
        return []
    return [{"name": d.name, "vector": (d.vector * d.sigma).astype("float32"), "sigma": d.sigma, "layers": d.layers}
            for d in found.directions]


def taste_direction(library_path: str, class_index: int | None, layers_key: str) -> Job:
    """The artist's taste as one slider (see :func:`studio.app.edits.taste_direction`)."""

    def job(ctx: JobContext) -> list[dict]:
        from studio.app.edits import parse_layers, taste_direction as taste
        from studio.library.store import Library

        r = ctx.renderer
        layers = parse_layers(None if layers_key == "all" else layers_key, r)
        evo = ctx.state.extras.get("evolution")          # the Evolve tab's choices count too
        if evo is not None and evo.renderer is not r:
            evo = None
        with Library(library_path) as library:
            return _as_sliders(taste(r, library, RenderSettings(class_index=class_index), layers=layers,
                                     evolution=evo))

    return job


def prompt_direction(prompt: str, clip_spec: str, clip_config: str | None, class_index: int | None) -> Job:
    """CLIP's direction toward a prompt as one slider."""

    def job(ctx: JobContext) -> list[dict]:
        from studio.app.edits import prompt_direction as toward

        return _as_sliders(toward(ctx.renderer, clip_spec, clip_config, prompt, RenderSettings(class_index=class_index),
                                  should_cancel=ctx.cancelled))

    return job


def blend_preview(other: str, points: dict, seeds: Sequence[int], class_index: int | None) -> Job:
    """The open model blended with ``other`` at ``points``: a row of images (tags 0..) per seed."""

    def job(ctx: JobContext) -> int:
        from studio.app import blending
        from studio.gan.formats import LoadedNetwork, load_network
        from studio.gan.render import Renderer

        mine = ctx.renderer.network
        cache = ctx.state.extras.setdefault("blend_partner", {})
        if cache.get("path") != other:                     # the partner is read once per dialog
            cache.update(path=other, net=load_network(other, device="cpu", with_discriminator=False))
        G = blending.blended(mine, cache["net"], points)
        renderer = Renderer(LoadedNetwork(G, None, "native", mine.path, "", {}, {}, {}), device="cpu")
        done = 0
        for seed, image in renderer.render_seeds(list(seeds), RenderSettings(class_index=class_index),
                                                 should_cancel=ctx.cancelled):
            ctx.emit_image(seed, image)
            done += 1
        return done

    return job


def blend_save(other: str, points: dict, path: str) -> Job:
    """Write the blend of the open model and ``other`` as a studio network; returns the path."""

    def job(ctx: JobContext) -> str:
        from studio.app import blending
        from studio.gan.formats import load_network

        mine = ctx.renderer.network
        partner = load_network(other, device="cpu", with_discriminator=False)
        blending.save(path, blending.blended(mine, partner, points), mine, partner, points)
        return path

    return job
