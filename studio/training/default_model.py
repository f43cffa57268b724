"""The bundled default generator: the data it learns from, how it trains, how it is published.

``studio train`` with no ``--data`` (and the ``default-abstract`` preset, the default) trains the
default model:

* the training images come from :mod:`studio.data.procedural`, labelled by family: painted
  afresh for every image (:data:`DEFAULT_PAINTINGS`, ``--paintings fresh``, seeds from 10,000,000),
  or with ``--paintings cached`` painted once into the cache (:data:`TRAINING_IMAGES` paintings at
  :data:`RESOLUTION` px, seeds 0 onwards, the six families in turn) and reused after that;
* training is conditional on the family, with ADA, batch 16 and a snapshot every 4 kimg
  (:data:`TRAINING_DEFAULTS`); anything given on the command line still wins;
* ``--resume latest`` continues the newest run in ``--outdir``, or, when there is none, whichever
  is further along of the resumable snapshot committed in the repository
  (:func:`resume_snapshot_path`) and the published weights themselves, so the model can be
  trained in pieces on different machines. The git history has room for few 47 MB snapshots, so
  the published file keeps what training needs apart from the optimiser state: the
  discriminators and the counters (kimg, ADA p, time). Continuing from it
  (:func:`continuation_snapshot`) restarts Adam's moments, which settle within a few hundred steps.

``studio publish-default`` turns a snapshot into the bundled files (:func:`publish`): the
generator and discriminator in float16 (``models/default-abstract.safetensors``) with the class
names and prompt keywords the Explore and Evolve panels use, a 4 x 4 sample grid in
``resources/``, and a model card with FD-CLIP against held-out paintings. It also copies the
snapshot, optimiser state included, to the one fixed path that is committed while training goes
on (``--resumable-only`` does just that).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from studio.core import paths

__all__ = [
    "TRAINING_IMAGES",
    "RESOLUTION",
    "HELDOUT_SEED_START",
    "TRAINING_DEFAULTS",
    "training_set_dir",
    "DEFAULT_PAINTINGS",
    "ensure_training_set",
    "resume_snapshot_path",
    "continuation_snapshot",
    "training_overrides",
    "keep_resumable",
    "publish",
]

TRAINING_IMAGES = 20_000
RESOLUTION = 128
#: Held-out paintings for FD-CLIP start here: training uses seeds below TRAINING_IMAGES, the
#: default CLIP's own training and evaluation seeds lie below 2,000,000.
HELDOUT_SEED_START = 2_000_000
HELDOUT_IMAGES = 1000

#: Options of a default-model run unless the command line says otherwise.
#: The discriminator's images are blurred early on (8 px, gone by 50 kimg: StyleGAN3's 6,250 steps
#: at batch 8), and a second discriminator judges the default CLIP's features of each image: both
#: push the generator to lay out compositions, where on its own it imitated canvas grain first. The
#: CLIP discriminator alone made every seed of a family alike; MSGAN's mode-seeking term (and batches
#: whose minibatch-std groups hold one family, as in every conditional run) work against that.
#: Batch 16 trains 18.2 images/s on two CPU cores where batch 8 trained 13.4 (the same run, 2026-11).
TRAINING_DEFAULTS: dict[str, Any] = {"preset": "default-abstract", "cond": True, "batch": 16, "tick_kimg": 2.0,
                                     "snap": 2, "kimg": 1000.0, "workers": 0, "blur_sigma": 8.0, "blur_kimg": 50.0,
                                     "clip_d": 0.5, "mode_seeking": 1.0, "clip": "default"}

#: What a new default-model run trains on. Measured over equal kimg from the published weights
#: (2026-12, 26 kimg each, one CPU thread), fresh paintings gave the lower FD-CLIP both with ADA
#: (0.131 against 0.133 cached) and without augmentation (0.112 against 0.133).
DEFAULT_PAINTINGS = "fresh"

SAMPLES_NAME = "default-abstract-samples.png"
CARD_NAME = "default-abstract.md"

Progress = Callable[[str, int, int], None]


def training_set_dir() -> Path:
    """Where the painted training set lives (in the user's cache; it is rebuilt if deleted)."""
    return paths.cache_dir() / "datasets" / f"procedural-{RESOLUTION}px-{TRAINING_IMAGES}"


def _complete(folder: Path, count: int, resolution: int) -> bool:
    try:
        meta = json.loads((folder / "studio-dataset.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return meta.get("count") == count and meta.get("resolution") == resolution and (folder / "dataset.json").is_file()


def ensure_training_set(progress: Progress | None = None, folder: Path | None = None,
                        count: int | None = None) -> Path:
    """The default model's training set, painted first if it is missing or incomplete.

    ``studio-dataset.json`` is written last, so a painting interrupted halfway is redone.
    """
    from studio.data.procedural import write_dataset

    folder = folder or training_set_dir()
    count = count or TRAINING_IMAGES
    if _complete(folder, count, RESOLUTION):
        return folder
    (folder / "studio-dataset.json").unlink(missing_ok=True)
    report = (lambda done, total: progress("paint", done, total)) if progress else None
    return write_dataset(folder, count, RESOLUTION, progress=report, workers=os.cpu_count())


def resume_snapshot_path() -> Path:
    """The committed resumable snapshot of the default model's training (one fixed path)."""
    return paths.bundled_models_dir() / "training" / "default-abstract-resume.safetensors"


def published_path() -> Path:
    """The bundled default generator, which training can also continue from."""
    return paths.default_network_path()


#: What a published file keeps of its snapshot's training state: every counter, no tensors.
_PUBLISHED_STATE = ("kimg", "nimg", "step", "tick", "p", "rt", "aug", "ema_rampup", "train_seconds", "hardware",
                    "options")


def _published_state(state: dict[str, Any]) -> dict[str, Any]:
    """The counters of a snapshot's training state, and its options without this machine's paths."""
    kept = {k: state[k] for k in _PUBLISHED_STATE if k in state}
    if "options" in kept:
        kept["options"] = {k: v for k, v in kept["options"].items() if k not in ("data", "run_dir", "resume")}
    return kept


def continuation_snapshot(published: str | Path, dest: str | Path) -> Path:
    """Write ``dest``, a training snapshot that continues where the published weights stopped.

    The published file has the generator's moving average, both discriminators and the counters
    but no optimiser state and no raw generator: training goes on from the average (as G and
    G_ema), Adam starting afresh. Raises ValueError for a file without counters or discriminator.
    """
    from studio.gan.formats import load_network
    from studio.gan.formats.native import read_native, save_native

    published, dest = Path(published), Path(dest)
    check_default_snapshot(published)
    net = load_network(published, with_discriminator=True)
    if "nimg" not in net.training_state or net.D is None:
        raise ValueError(f"{published.name} keeps no training counters or no discriminator to continue from")
    tensors, _ = read_native(published)
    extra = {f"G.{k}": v.clone() for k, v in net.G.state_dict().items()}   # G starts as the average
    extra.update({k: v.float() for k, v in tensors.items() if k.startswith("Dclip.")})
    dest.parent.mkdir(parents=True, exist_ok=True)
    save_native(dest, net.G, net.D, provenance=net.provenance, training_state=net.training_state,
                extra_tensors=extra)
    return dest


def _continuable_kimg(path: Path) -> float | None:
    """The kimg training can continue from ``path`` at (None unless it has counters and a discriminator)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            state = json.loads((f.metadata() or {}).get("training_state") or "{}")
            has_d = any(k.startswith("D.") for k in f.keys())
    except Exception:  # noqa: BLE001 - missing or unreadable: nothing to continue from
        return None
    return state["nimg"] / 1000 if "nimg" in state and has_d else None


def training_overrides(given: dict[str, Any], outdir: str | Path, progress: Progress | None = None, *,
                       paintings: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """Command-line options completed for a default-model run, and notes saying what was chosen.

    ``paintings`` is what a new run trains on: ``fresh`` (a painting painted for every image) or
    ``cached`` (the :data:`TRAINING_IMAGES` painted into the cache once); None is :data:`DEFAULT_PAINTINGS`.

    Only applies when ``given`` names no dataset and no other preset; otherwise ``given`` comes
    back unchanged. Continuing a run in ``outdir`` keeps that run's own options.
    """
    from studio.data.dataset import FRESH_PAINTINGS
    from studio.training.runs import latest_run_dir

    if paintings not in (None, "fresh", "cached"):
        raise ValueError(f"paintings is fresh or cached, not {paintings!r}")
    if given.get("data") or given.get("preset") not in (None, "default-abstract"):
        return given, []
    fresh = (paintings or DEFAULT_PAINTINGS) == "fresh"
    resume = given.get("resume")
    run = latest_run_dir(outdir) if resume == "latest" else None
    if run is not None:
        saved = _saved_data(run)
        if saved is not None and saved == training_set_dir():   # the cache was cleared: paint again
            ensure_training_set(progress)
        own = "fresh" if saved is not None and str(saved) == FRESH_PAINTINGS else "cached"
        if paintings is not None and paintings != own:
            return given, [f"--paintings {paintings} is not used: {run.name} goes on with its own ({own}) paintings; "
                           "start a new run in another --outdir to change them"]
        return given, []
    notes = []
    options = dict(given)
    for key, value in TRAINING_DEFAULTS.items():
        if options.get(key) is None:
            options[key] = value
    if fresh:
        options["data"], options["res"] = FRESH_PAINTINGS, options.get("res") or RESOLUTION
        notes.append("training the default model on procedural paintings painted afresh for every image")
    else:
        options["data"] = str(ensure_training_set(progress))
        notes.append(f"training the default model on {TRAINING_IMAGES:,} procedural paintings in {options['data']}")
    if resume == "latest":
        committed, published = resume_snapshot_path(), published_path()
        at_committed, at_published = _continuable_kimg(committed), _continuable_kimg(published)
        if at_published is not None and (at_committed is None or at_published > at_committed):
            start = paths.cache_dir() / "training" / f"default-abstract-continue-{round(at_published * 1000)}.safetensors"
            options["resume"] = str(continuation_snapshot(published, start))
            behind = f"; the committed snapshot is at {at_committed:.1f} kimg" if at_committed is not None else ""
            notes.append(f"continuing the published weights {published} at {at_published:.1f} kimg{behind}")
            continued = f"the published weights at {at_published:.1f} kimg"
        elif at_committed is not None:
            options["resume"] = str(committed)
            notes.append(f"continuing the committed snapshot {committed}")
            continued = f"the committed snapshot at {at_committed:.1f} kimg"
        else:
            continued = None
        if continued:                               # the model card names it
            options["extra"] = {**(options.get("extra") or {}), "continued": continued}
    return options, notes


def _saved_data(run: Path) -> Path | None:
    from studio.training.options import TrainingOptions

    try:
        data = TrainingOptions.load(run).data
    except ValueError:
        return None
    return Path(data).expanduser() if data else None


def check_default_snapshot(snapshot: Path) -> None:
    """Raise ValueError unless ``snapshot`` holds a default-model generator (128 px, six families)."""
    from studio.data.procedural import FAMILIES
    from studio.gan.formats.native import read_native

    try:
        _, meta = read_native(snapshot)
        config = json.loads(meta["generator_config"])
    except Exception as exc:  # noqa: BLE001 - any unreadable file is simply not one
        raise ValueError(f"{snapshot} is not a studio network file: {exc}") from None
    res, classes = config.get("img_resolution"), config.get("c_dim")
    if res != RESOLUTION or classes != len(FAMILIES):
        raise ValueError(f"{snapshot.name} is not a default-model snapshot ({res} px, {classes} classes; "
                         f"expected {RESOLUTION} px and {len(FAMILIES)} families)")


def keep_resumable(snapshot: str | Path) -> Path:
    """Copy a default-model training snapshot (optimiser state included) to :func:`resume_snapshot_path`."""
    from studio.core.atomic import atomic_path
    from studio.training.snapshots import is_training_snapshot

    snapshot = Path(snapshot).expanduser()
    if not is_training_snapshot(snapshot):
        raise ValueError(f"{snapshot} is not a training snapshot (it has no optimiser state to resume from)")
    check_default_snapshot(snapshot)
    target = resume_snapshot_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as temp:
        shutil.copyfile(snapshot, temp)
    return target


# ---------------------------------------------------------------------------------------------
# Publishing
# ---------------------------------------------------------------------------------------------


def _class_keywords() -> dict[str, list[str]]:
    from studio.data.procedural import FAMILY_SHAPES

    return {family: list(shapes) for family, shapes in FAMILY_SHAPES.items()}


def _half_round_trip(G):
    """A copy of ``G`` whose floating-point weights went through float16, as the bundled file stores them."""
    import copy

    import torch

    G16 = copy.deepcopy(G).eval()
    with torch.no_grad():
        for t in list(G16.parameters()) + list(G16.buffers()):
            if t.is_floating_point():
                t.copy_(t.half().float())
    return G16


def _sample_grid(G, classes: list[str], psi: float):
    """4 x 4 samples, seeds 0-15, the families in turn (seed i shows family i mod 6), labelled."""
    import numpy as np
    import torch

    from studio.gan.latents import one_hot, zs_from_seeds
    from studio.gan.render import to_uint8
    from studio.imaging.sheets import image_grid

    n, cols = 16, 4
    labels = [i % len(classes) for i in range(n)]
    z = torch.from_numpy(zs_from_seeds(list(range(n)), G.z_dim))
    c = torch.from_numpy(np.stack([one_hot(k, G.c_dim) for k in labels]))
    with torch.inference_mode():
        images = to_uint8(G(z, c, truncation_psi=psi, noise_mode="const"))
    captions = [f"seed {i} - {classes[k]}" for i, k in enumerate(labels)]
    return image_grid(images, cols, captions=captions, background=(245, 243, 238))


def _fd_clip(G, scorer, count: int, batch: int, progress: Progress | None) -> dict[str, float]:
    """FD-CLIP of ``count`` generated images (families in equal shares) against as many held-out
    paintings, and of the training paintings against the same held-out ones (the floor); the
    families the CLIP recognises; variety within a family (mean pairwise CLIP-feature distance,
    generated / paintings) and edges (mean gradient magnitude, generated / paintings)."""
    import numpy as np
    import torch

    from studio.data.procedural import paint
    from studio.gan.latents import one_hot, zs_from_seeds
    from studio.gan.render import to_uint8
    from studio.training.metrics import compute_features, fd_clip

    edges: dict[str, list[float]] = {"painted": [], "generated": []}

    def painted(seeds, tally: str | None = None):
        for start in range(0, len(seeds), batch):
            images = np.stack([np.asarray(paint(s, RESOLUTION).image.convert("RGB")) for s in seeds[start:start + batch]])
            if tally:
                edges[tally] += edge_strength(images)
            yield images
            if progress:
                progress("paint", min(start + batch, len(seeds)), len(seeds))

    def generated():
        for start in range(0, count, batch):
            seeds = list(range(HELDOUT_SEED_START + start, HELDOUT_SEED_START + min(start + batch, count)))
            z = torch.from_numpy(zs_from_seeds(seeds, G.z_dim))
            c = torch.from_numpy(np.stack([one_hot(s % G.c_dim, G.c_dim) for s in seeds]))
            with torch.inference_mode():
                images = to_uint8(G(z, c, noise_mode="const"))
            edges["generated"] += edge_strength(images)
            yield images
            if progress:
                progress("generate", min(start + batch, count), count)

    held_out_seeds = list(range(HELDOUT_SEED_START, HELDOUT_SEED_START + count))
    held_out = compute_features(scorer, painted(held_out_seeds, "painted"))
    training = compute_features(scorer, painted(list(range(count))))
    fakes = compute_features(scorer, generated())
    families = [s % G.c_dim for s in held_out_seeds]       # both sets: seed s shows family s mod 6
    variety = {name: family_variety(feats, families) for name, feats in (("generated", fakes), ("painted", held_out))}
    return {"fd_clip": fd_clip(held_out, fakes), "fd_clip_training_vs_held_out": fd_clip(held_out, training),
            "family_generated": _family_recognition(scorer, fakes, families),
            "family_held_out": _family_recognition(scorer, held_out, families),
            "variety_generated": variety["generated"], "variety_painted": variety["painted"],
            "variety_ratio": variety["generated"] / max(variety["painted"], 1e-12),
            "edges_generated": float(np.mean(edges["generated"])), "edges_painted": float(np.mean(edges["painted"])),
            "edges_ratio": float(np.mean(edges["generated"]) / max(np.mean(edges["painted"]), 1e-12))}


def family_variety(features, families: list[int]) -> float:
    """Mean pairwise distance between the (L2-normalised) CLIP features of the images of one family,
    averaged over the families: how different a family's pictures are from each other."""
    import numpy as np

    features, families = np.asarray(features, dtype=np.float64), np.asarray(families)
    spreads = []
    for family in np.unique(families):
        f = features[families == family]
        if len(f) < 2:
            continue
        sq = (f * f).sum(1)
        dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * f @ f.T, 0))
        spreads.append(dist[np.triu_indices(len(f), 1)].mean())
    return float(np.mean(spreads)) if spreads else 0.0


def edge_strength(images) -> list[float]:
    """Each image's mean gradient magnitude (grey levels per pixel) of uint8 ``[N, H, W, 3]``: how crisp
    its edges are, a painting's hard edge against a soft or grainy blur."""
    import numpy as np

    grey = np.asarray(images, dtype=np.float32).mean(axis=-1)
    gx, gy = np.diff(grey, axis=2)[:, :-1, :], np.diff(grey, axis=1)[:, :, :-1]
    return list(np.sqrt(gx * gx + gy * gy).mean(axis=(1, 2)).astype(float))


def _family_recognition(scorer, features, families: list[int]) -> float:
    """Fraction of images whose family the CLIP names zero-shot (the best of all the caption
    grammar's descriptions, as in the default CLIP's own evaluation)."""
    from studio.data.procedural import FAMILIES
    from studio.training.clip_train import zero_shot_attributes

    named = [FAMILIES.index(a["family"]) for a in zero_shot_attributes(scorer, features)]
    return sum(n == f for n, f in zip(named, families)) / max(1, len(families))


def _card(info: dict[str, Any]) -> str:
    from studio.data.dataset import FRESH_SEED_START

    t = info["training"]
    hours = t["train_seconds"] / 3600 if t.get("train_seconds") else None
    fd = info["fd"]
    lines = [
        "# Default generator of the GAN Art Studio (`default-abstract`)",
        "",
        "A conditional StyleGAN2 that paints small abstract pictures in six families of twentieth-century "
        "abstraction. It is trained by the studio's own trainer on procedural paintings the studio makes "
        "itself (`studio.data.procedural`), so it ships with the project and needs no download.",
        "",
        f"![4 x 4 samples, seeds 0-15, families in turn](../resources/{SAMPLES_NAME})",
        "",
        "## What it is",
        "",
        f"- {info['resolution']} x {info['resolution']} px, conditional on the family: "
        + ", ".join(f"{k} {name}" for k, name in enumerate(info["classes"])),
        f"- StyleGAN2 (skip generator, resnet discriminator), preset `default-abstract`: "
        f"channel_base {info['config']['channel_base']}, channel_max {info['config']['channel_max']}, "
        f"{info['config']['mapping_layers']} mapping layers, w {info['config']['w_dim']}; "
        f"G {info['g_params']:,} and D {info['d_params']:,} parameters",
        f"- `default-abstract.safetensors`: generator (EMA) and discriminator in float16, "
        f"{info['bytes'] / 1e6:.1f} MB, with the CLIP discriminator's head and the training counters to "
        "continue from",
        "",
        "## Training",
        "",
        (f"- data: procedural paintings at {info['resolution']} px painted afresh for every image (seeds from "
         f"{FRESH_SEED_START:,}), labelled by family"
         + (f"; this run continued {t['continued']}" if t.get("continued") else "") if t.get("fresh") else
         f"- data: {info['data_images']:,} procedural paintings at {info['resolution']} px (seeds 0-"
         f"{info['data_images'] - 1}), labelled by family"),
        f"- {t['kimg']:.1f} kimg, batch {t['batch']}, Adam lr {t['lr']}, R1 gamma {t['gamma']:.4g}, "
        f"style mixing {t['style_mix']}, "
        + {"noaug": "no augmentation", "fixed": f"fixed augmentation (p {t['p']:.3f})"}.get(
            t.get("aug"), f"ADA (target {t['target']}; final p {t['p']:.3f})")
        + (f", discriminator blur {t['blur_sigma']:g} px fading to none at {t['blur_kimg']:g} kimg"
           if t.get("blur_sigma") else "")
        + (f", CLIP discriminator on the default CLIP's features (weight {t['clip_d']:g})" if t.get("clip_d") else "")
        + (f", mode-seeking term (weight {t['mode_seeking']:g})" if t.get("mode_seeking") else ""),
        f"- training time: {hours:.1f} h" if hours is not None else "- training time: not recorded",
        f"- hardware: {', '.join(t['hardware']) if t.get('hardware') else 'not recorded'}",
        "",
        "## Quality",
        "",
        f"FD-CLIP (Frechet distance of CLIP image features, here the studio's default CLIP's; lower is "
        f"better) over {info['fd_images']} images per set:",
        "",
        "| compared | FD-CLIP |",
        "| --- | --- |",
        f"| generated (families in equal shares) vs held-out paintings | {fd['fd_clip']:.4f} |",
        f"| training paintings vs held-out paintings (the floor) | {fd['fd_clip_training_vs_held_out']:.4f} |",
        "",
        f"Families recognised: the default CLIP names the family asked for of "
        f"{100 * fd['family_generated']:.0f} % of the generated images, and of "
        f"{100 * fd['family_held_out']:.0f} % of the held-out paintings (zero-shot, as in its own card).",
        "",
        f"Variety within a family (mean pairwise distance of the CLIP features of one family's images): "
        f"{fd['variety_generated']:.3f} generated, {fd['variety_painted']:.3f} paintings, ratio "
        f"{fd['variety_ratio']:.2f} (1 = as varied as the paintings). Edges (mean gradient magnitude, grey "
        f"levels per pixel): {fd['edges_generated']:.2f} generated, {fd['edges_painted']:.2f} paintings, ratio "
        f"{fd['edges_ratio']:.2f} (below 1: softer than the paintings).",
        "",
        "Held-out paintings use seeds from 2,000,000, never seen in training."
        + (" The CLIP discriminator trained the generator on this same CLIP's features, so both "
           "figures flatter it: judge by the samples as well." if t.get("clip_d") else ""),
        "",
        *(["## Status", "", info["note"], ""] if info.get("note") else []),
        "## Limits",
        "",
        "- It knows only these six families at 128 px: it is a sketchbook for trying the studio, not a "
        "model for finished work. Open any StyleGAN2 `.pkl` / `.pt` for that.",
        f"- Trained for {t['kimg']:.0f} kimg, where StyleGAN2 models usually get thousands: it is "
        "closer to the paintings the longer it trains. `studio train --resume latest` continues from these "
        "weights (Adam's state starts afresh)"
        + (f", or from the committed resumable snapshot (at {info['resumable_kimg']:.1f} kimg) when that is "
           "further along" if info.get("resumable_kimg") is not None else "") + ".",
        "",
        "## Reproduce",
        "",
        ("    studio train --resume latest          # trains (or continues) on paintings painted as it goes"
         if t.get("fresh") else
         "    studio train --resume latest --paintings cached   # paints the data once, then trains (or continues)"),
        "    studio publish-default latest          # writes this file, the weights and the sample grid",
        "",
    ]
    return "\n".join(lines)


def publish(snapshot: str | Path, *, models_dir: str | Path | None = None, resources_dir: str | Path | None = None,
            fd_images: int = HELDOUT_IMAGES, clip: str = "default", psi: float = 1.0, note: str | None = None,
            progress: Progress | None = None) -> dict[str, Any]:
    """Write the bundled default generator, its sample grid and model card from ``snapshot``.

    Returns what the model card reports; ``note`` goes into the card as its status (e.g. how far
    the samples are from the paintings). The network file gets the class names and, for the
    Evolve panel, the shapes that ask for each family (``class_keywords``).
    """
    from studio.clip.model import load_clip
    from studio.core.atomic import atomic_path, atomic_write_text
    from studio.data.dataset import FRESH_PAINTINGS
    from studio.data.procedural import FAMILIES
    from studio.gan.formats import load_network
    from studio.gan.formats.native import read_native, save_native

    snapshot = Path(snapshot).expanduser()
    models = Path(models_dir) if models_dir is not None else paths.bundled_models_dir()
    resources = Path(resources_dir) if resources_dir is not None else paths.project_root() / "resources"
    check_default_snapshot(snapshot)
    if fd_images < 2:
        raise ValueError(f"FD-CLIP needs at least 2 images per set, got {fd_images}")
    net = load_network(snapshot, with_discriminator=True)
    G, D = net.G.eval(), net.D
    state = net.training_state or {}
    options = state.get("options") or {}
    resolution = G.img_resolution
    # measure what ships (float16 weights), and everything before writing anything: a failure
    # leaves the bundled files as they were
    G16 = _half_round_trip(G)
    scorer = load_clip(clip)
    fd = _fd_clip(G16, scorer, int(fd_images), 50, progress)
    samples = _sample_grid(G16, list(FAMILIES), psi)

    provenance = {
        "source_format": "studio-training", "model": "default-abstract", "snapshot": snapshot.name,
        "kimg": state.get("kimg"), "class_names": list(FAMILIES), "class_keywords": _class_keywords(),
        "published": time.strftime("%Y-%m-%d"),
    }
    target = models / "default-abstract.safetensors"
    models.mkdir(parents=True, exist_ok=True)
    resources.mkdir(parents=True, exist_ok=True)
    # what continuing needs (continuation_snapshot), at a fraction of the 47 MB snapshot: the
    # counters and the CLIP discriminator's head (0.2 MB); G_ema and D are stored already
    heads = {k: v.half() for k, v in read_native(snapshot)[0].items() if k.startswith("Dclip.")}
    fingerprint = save_native(target, G, D, provenance=provenance, half=True, extra_tensors=heads,
                              training_state=_published_state(state))
    with atomic_path(resources / SAMPLES_NAME) as temp:
        samples.save(temp, format="PNG", optimize=True)
    from studio.training.options import TrainingOptions

    defaults = TrainingOptions()
    batch = int(options.get("batch", defaults.batch))
    gamma = options.get("gamma")
    info = {
        "resolution": resolution, "classes": list(FAMILIES), "config": {k: getattr(G.config, k) for k in (
            "channel_base", "channel_max", "mapping_layers", "w_dim")},
        "g_params": sum(p.numel() for p in G.parameters()),
        "d_params": sum(p.numel() for p in D.parameters()) if D is not None else 0,
        "bytes": target.stat().st_size, "data_images": TRAINING_IMAGES, "fd_images": int(fd_images), "fd": fd,
        "training": {
            "kimg": float(state.get("kimg", 0.0)), "batch": batch, "lr": options.get("lr", defaults.lr),
            "gamma": gamma if gamma is not None else 0.0002 * resolution ** 2 / batch,
            "style_mix": options.get("style_mix", defaults.style_mix), "target": options.get("target", defaults.target),
            "blur_sigma": options.get("blur_sigma", defaults.blur_sigma),
            "blur_kimg": options.get("blur_kimg", defaults.blur_kimg),
            "clip_d": options.get("clip_d", defaults.clip_d),
            "mode_seeking": options.get("mode_seeking", defaults.mode_seeking),
            "p": float(state.get("p", 0.0)), "train_seconds": state.get("train_seconds"),
            "aug": options.get("aug", defaults.aug), "fresh": options.get("data") == FRESH_PAINTINGS,
            "continued": (options.get("extra") or {}).get("continued"),
            "hardware": state.get("hardware", []),
        },
        "fingerprint": fingerprint, "note": note, "resumable_kimg": _continuable_kimg(resume_snapshot_path()),
    }
    atomic_write_text(models / CARD_NAME, _card(info))
    return info
