"""Jobs for the inference thread: thin closures over engine calls, built on the UI thread.

Nothing here runs torch on the UI thread: engine modules are imported inside the job bodies,
which execute on the worker. Settings cross as plain dicts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from studio.ui.inference import Job, JobContext


def model_info(renderer) -> dict[str, Any]:
    """Plain facts about the open model for the UI (no torch objects)."""
    net, G = renderer.network, renderer.G
    return {
        "name": net.name, "path": str(net.path), "format": net.format, "fingerprint": net.fingerprint,
        "kind": net.kind, "resolution": G.img_resolution, "channels": G.img_channels, "num_ws": G.num_ws,
        "z_dim": G.z_dim, "w_dim": G.w_dim, "c_dim": G.c_dim, "has_discriminator": net.D is not None,
        "params": sum(p.numel() for p in G.parameters()), "device": str(renderer.device),
        "class_names": list(net.details.get("class_names", [])) if isinstance(net.details, dict) else [],
    }


def load_model(source: str) -> Job:
    """Open a network file or URL and make it the worker's current model."""

    def job(ctx: JobContext) -> dict:
        from studio.engine.formats import load_network
        from studio.engine.render import Renderer

        path = _resolve(source, ctx)
        network = load_network(path, device=ctx.state.device)
        ctx.state.renderer = Renderer(network, device=ctx.state.device)
        return model_info(ctx.state.renderer)

    return job


def _resolve(source: str, ctx: JobContext) -> Path:
    try:
        from studio.engine.download import is_url, resolve_model_source
    except ImportError:  # downloads not available: local paths only
        return Path(source).expanduser()
    if is_url(source):
        def progress(done: int, total: int | None) -> None:
            ctx.emit_progress(done, total or 0)
        return resolve_model_source(source, progress=progress)
    return Path(source).expanduser()


def _settings(d: dict):
    from studio.engine.render import RenderSettings

    return RenderSettings(
        truncation_psi=float(d.get("truncation_psi", 1.0)),
        truncation_cutoff=d.get("truncation_cutoff"),
        class_index=d.get("class_index"),
        noise_mode=d.get("noise_mode", "const"),
        noise_seed=d.get("noise_seed"),
    )


def render_seeds(seeds: Sequence[int], settings: dict) -> Job:
    """Stream one image per seed (tag = seed), cancelling between batches."""
    seeds = list(seeds)

    def job(ctx: JobContext) -> int:
        r = ctx.renderer
        done = 0
        for seed, image in r.render_seeds(seeds, _settings(settings), should_cancel=ctx.cancelled):
            ctx.emit_image(seed, image)
            done += 1
            ctx.emit_progress(done, len(seeds))
        return done

    return job


def render_recipe(recipe_json: str, tag: Any = None) -> Job:
    """Re-create one image from its recipe (tag defaults to the recipe's seed)."""

    def job(ctx: JobContext) -> str:
        from studio.engine.recipe import Recipe

        recipe = Recipe.from_json(recipe_json)
        r = ctx.renderer
        if recipe.model.fingerprint != r.network.fingerprint:
            raise ValueError(f"this image was made with '{recipe.model.name}', not with the open model")
        ctx.emit_image(tag if tag is not None else recipe.seed, r.render_recipe(recipe), recipe_json)
        return recipe_json

    return job


def _recipe_ws(r, recipe):
    """[1, num_ws, w_dim] of a recipe with its own truncation, class and style mix."""
    from studio.engine.latents import mix_styles

    if recipe.model.fingerprint != r.network.fingerprint:
        raise ValueError(f"an image was made with '{recipe.model.name}', not with the open model")
    settings = r.settings_of(recipe)
    ws = r.ws_from_latent(recipe.latent, settings)
    if recipe.mix is not None:
        ws = mix_styles(ws, r.ws_from_latent(recipe.mix.source, settings), recipe.mix.layers)
    return ws


def resolve_ws(ctx: JobContext, spec: dict, settings) -> tuple:
    """A source spec -> (ws [1, num_ws, w_dim], Latent that re-creates it).

    Specs: {'seed': n} (rendered with the panel's settings) or {'recipe': json} (a favourite or
    a promoted cell, keeping its own look: it becomes its explicit ws).
    """
    from studio.engine.recipe import Latent, Recipe

    r = ctx.renderer
    if "seed" in spec:
        seed = int(spec["seed"])
        return r.ws_from_seeds([seed], settings), Latent(seed=seed)
    ws = _recipe_ws(r, Recipe.from_json(spec["recipe"]))
    return ws, Latent(w=ws[0].cpu().numpy())


def _keyframes(ctx: JobContext, specs: Sequence[dict], space: str, settings):
    """Interpolation keyframes; in Z only plain seeds and z latents can take part."""
    from studio.engine.interpolate import Keyframe
    from studio.engine.recipe import Recipe

    keys = []
    for spec in specs:
        if space == "z" and "recipe" in spec:
            recipe = Recipe.from_json(spec["recipe"])
            if recipe.mix is not None or recipe.w is not None:
                raise ValueError("favourites with a style mix or an explicit w can only be interpolated in W")
            keys.append(Keyframe(recipe.latent))
            continue
        keys.append(Keyframe(resolve_ws(ctx, spec, settings)[1]) if "recipe" in spec
                    else Keyframe.from_seed(int(spec["seed"])))
    return keys


def render_mix_matrix(forms: Sequence[dict], styles: Sequence[dict], layers: Sequence[int], settings: dict) -> Job:
    """The forms x styles matrix: streams the sources (tags ('form', i), ('style', j)) and every
    cell (tag ('cell', i, j)) with the cell's recipe JSON as extra."""

    def job(ctx: JobContext) -> int:
        from studio.engine.recipe import StyleMix

        r = ctx.renderer
        s = _settings(settings)
        form_res = [resolve_ws(ctx, spec, s) for spec in forms]
        style_res = [resolve_ws(ctx, spec, s) for spec in styles]
        import torch

        form_ws = torch.cat([ws for ws, _ in form_res])
        style_ws = torch.cat([ws for ws, _ in style_res])
        for kind, res_list, ws_all in (("form", form_res, form_ws), ("style", style_res, style_ws)):
            images = r.synthesize(ws_all, s)
            for i, image in enumerate(images):
                if ctx.cancelled():
                    return 0
                recipe = r.recipe(s, **_latent_kwargs(res_list[i][1]))
                ctx.emit_image((kind, i), image, recipe.to_json())
        total = len(forms) * len(styles)
        done = 0
        for f, st, image in r.render_mix_ws(form_ws, style_ws, list(layers), s, should_cancel=ctx.cancelled):
            mix = StyleMix(source=style_res[st][1], layers=list(layers))
            recipe = r.recipe(s, mix=mix, **_latent_kwargs(form_res[f][1]))
            ctx.emit_image(("cell", f, st), image, recipe.to_json())
            done += 1
            ctx.emit_progress(done, total)
        return done

    return job


def _latent_kwargs(latent) -> dict:
    return {"seed": latent.seed} if latent.seed is not None else {"w": latent.w}


def render_interpolation(keyframes: Sequence[dict], frames: int, *, space: str, loop: bool, settings: dict) -> Job:
    """Stream an interpolation strip (tag = frame index)."""

    def job(ctx: JobContext) -> int:
        from studio.engine.interpolate import interpolation_ws, render_frames

        r = ctx.renderer
        s = _settings(settings)
        ws = interpolation_ws(r, _keyframes(ctx, keyframes, space, s), frames, space=space, loop=loop, settings=s)
        count = 0
        for count, image in enumerate(render_frames(r, ws, s, should_cancel=ctx.cancelled), start=1):
            ctx.emit_image(count - 1, image)
            ctx.emit_progress(count, ws.shape[0])
        return count

    return job


def export_interpolation(keyframes: Sequence[dict], frames: int, *, space: str, loop: bool, settings: dict,
                         out: str, fps: int) -> Job:
    """Render and write an interpolation to a video, GIF or folder of frames (with progress)."""

    def job(ctx: JobContext) -> str:
        from studio.engine.interpolate import interpolation_ws, render_frames, write_video

        r = ctx.renderer
        s = _settings(settings)
        ws = interpolation_ws(r, _keyframes(ctx, keyframes, space, s), frames, space=space, loop=loop, settings=s)
        total = ws.shape[0]

        def progress(done: int, _total: int) -> None:
            ctx.emit_progress(done, total)

        write_video(render_frames(r, ws, s, progress=progress, should_cancel=ctx.cancelled), out, fps=fps)
        return out

    return job


def write_mix_sheet(forms, styles, cells, cell_size: tuple[int, int], path: str) -> Job:
    """Write the labelled forms x styles sheet (F1.. across, S1.. down) as a PNG."""

    def job(ctx: JobContext) -> str:
        from studio.engine.atomic import atomic_path
        from studio.engine.mixgrid import labelled_sheet

        sheet = labelled_sheet(forms, styles, cells, col_labels=[f"F{i + 1}" for i in range(len(forms))],
                               row_labels=[f"S{j + 1}" for j in range(len(styles))], cell_size=cell_size)
        with atomic_path(path) as tmp:
            sheet.save(tmp, format="PNG")
        return path

    return job


def export_preview(recipe_json: str, passes: Sequence[dict], final_size_text: str) -> Job:
    """Before / after of the first image: the render, and the post-processing at preview size."""

    def job(ctx: JobContext) -> None:
        from studio.engine.postprocess import PostProcess, apply
        from studio.engine.recipe import Recipe

        r = ctx.renderer
        recipe = Recipe.from_json(recipe_json)
        if recipe.model.fingerprint != r.network.fingerprint:
            raise ValueError(f"this image was made with '{recipe.model.name}'; open that model to export it")
        image = r.render_recipe(recipe)
        ctx.emit_image("before", image)
        if ctx.cancelled():
            return
        notes = []
        for spec in passes:
            result = apply(image, PostProcess.from_dict(spec))
            image = result.image
            notes += result.notes
        ctx.emit_image("after", image, "; ".join([final_size_text] + notes))

    return job


def export_batch(recipe_jsons: Sequence[str], passes: Sequence[dict], export: dict, folder: str,
                 name_pattern: str) -> Job:
    """Re-render each recipe, post-process and write it; returns one report dict per file."""

    def job(ctx: JobContext) -> list[dict]:
        from pathlib import Path

        from studio.engine.export import ExportSettings, render_and_export, unique_path
        from studio.engine.postprocess import PostProcess
        from studio.engine.recipe import Recipe

        r = ctx.renderer
        steps = [PostProcess.from_dict(p) for p in passes]
        settings = ExportSettings.from_dict(export)
        out = Path(folder).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        reports = []
        for n, text in enumerate(recipe_jsons, start=1):
            if ctx.cancelled():
                break
            recipe = Recipe.from_json(text)
            latent = f"seed{recipe.seed:04d}" if recipe.seed is not None else f"image{n:03d}"
            name = name_pattern.format(model=r.network.name, latent=latent, n=n) + "." + settings.extension
            target = out / name if settings.overwrite else unique_path(out / name)
            report = render_and_export(r, recipe, steps, settings, target)
            reports.append({"path": str(report.path), "width": report.size[0], "height": report.size[1],
                            "upscaler": report.upscaler, "notes": report.notes})
            ctx.emit_progress(n, len(recipe_jsons))
        return reports

    return job
