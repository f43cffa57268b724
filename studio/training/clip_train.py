"""Training the studio's small default CLIP on procedural paintings and their captions.

:func:`train_clip` paints (or reads) procedural images with captions
(:mod:`studio.data.procedural`), trains an open_clip ``CLIP`` built from a small config
(``models/default-clip-config.json``) with the symmetric contrastive loss, and writes a folder
that :func:`studio.clip.model.load_clip` opens like any open_clip checkpoint folder:
``config.json``, ``weights.safetensors`` (float16), ``vocabulary.txt``, ``prompts.txt`` (example
prompts for the Evolve panel) and a model card
``README.md`` with the zero-shot accuracies of :func:`evaluate_zero_shot`.

Training checkpoints every epoch (atomically) to ``checkpoint.safetensors`` (model and optimizer
state; the progress is in its metadata and in ``checkpoint.json`` beside it) and resumes from it.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from studio.core import paths
from studio.core.device import pick_device

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "EVAL_SEED_START",
    "build_model",
    "evaluate_zero_shot",
    "zero_shot_attributes",
    "load_config",
    "train_clip",
    "zero_shot_descriptions",
]

#: The architecture of the bundled default CLIP.
DEFAULT_CONFIG_PATH: Path = paths.bundled_models_dir() / "default-clip-config.json"

#: Held-out seeds start here: training never paints a seed this large.
EVAL_SEED_START = 1_000_000

CHECKPOINT_NAME = "checkpoint.safetensors"
CHECKPOINT_STATE_NAME = "checkpoint.json"
_FORMAT = "studio-clip-train-1"


# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------


def load_config(config: str | Path | dict | None = None) -> dict:
    """An open_clip model config: a dict as given, a JSON file, or the default config."""
    if isinstance(config, dict):
        data = json.loads(json.dumps(config))
    else:
        path = Path(config).expanduser() if config is not None else DEFAULT_CONFIG_PATH
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("model_cfg"), dict):
            data = data["model_cfg"]
    if not isinstance(data, dict) or not all(k in data for k in ("embed_dim", "vision_cfg", "text_cfg")):
        raise ValueError("not an open_clip model config (it needs embed_dim, vision_cfg and text_cfg)")
    return data


def build_model(config: dict) -> tuple[torch.nn.Module, Any, tuple[list[float], list[float]]]:
    """(model, tokenizer, (mean, std)) for an open_clip config, built exactly as loading builds it."""
    from studio.clip.model import import_open_clip, quiet_open_clip, register_config

    open_clip = import_open_clip()
    arch = register_config(config)
    with quiet_open_clip():
        model = open_clip.create_model(arch, pretrained=None, device="cpu",
                                       pretrained_image=False, pretrained_text=False)
        tokenizer = open_clip.get_tokenizer(arch)
    cfg = open_clip.get_model_preprocess_cfg(model)
    mean = list(cfg.get("mean", open_clip.OPENAI_DATASET_MEAN))
    std = list(cfg.get("std", open_clip.OPENAI_DATASET_STD))
    return model, tokenizer, (mean, std)


def _image_size(config: dict) -> int:
    size = config["vision_cfg"].get("image_size", 224)
    return int(size if isinstance(size, int) else max(size))


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def _paint_set(seeds: Iterable[int], resolution: int,
               progress: Callable[[str, int, int], None] | None = None) -> tuple[np.ndarray, list[str], list[dict]]:
    from studio.data.procedural import paint

    seeds = list(seeds)
    images = np.zeros((len(seeds), resolution, resolution, 3), dtype=np.uint8)
    captions, attributes = [], []
    for i, seed in enumerate(seeds):
        painting = paint(seed, resolution)
        images[i] = np.asarray(painting.image.convert("RGB"))
        captions.append(painting.caption)
        attributes.append(painting.attributes)
        if progress is not None and ((i + 1) % 100 == 0 or i + 1 == len(seeds)):
            progress("paint", i + 1, len(seeds))
    return images, captions, attributes


def _read_set(folder: Path, resolution: int, limit: int | None,
              progress: Callable[[str, int, int], None] | None = None) -> tuple[np.ndarray, list[str], list[dict]]:
    """Images and captions of a ``studio procedural`` folder (``captions.jsonl``), resized to ``resolution``."""
    from PIL import Image

    index = folder / "captions.jsonl"
    if not index.is_file():
        raise FileNotFoundError(f"{folder} has no captions.jsonl; write one with `studio procedural`")
    rows = [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines() if line.strip()]
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        raise ValueError(f"{index} lists no images")
    images = np.zeros((len(rows), resolution, resolution, 3), dtype=np.uint8)
    for i, row in enumerate(rows):
        with Image.open(folder / row["file"]) as im:
            im = im.convert("RGB")
            if im.size != (resolution, resolution):
                im = im.resize((resolution, resolution), Image.LANCZOS)
            images[i] = np.asarray(im)
        if progress is not None and ((i + 1) % 100 == 0 or i + 1 == len(rows)):
            progress("read", i + 1, len(rows))
    return images, [row["caption"] for row in rows], [row.get("attributes") or {} for row in rows]


def _augment(x: torch.Tensor, gen: torch.Generator, out_size: int) -> torch.Tensor:
    """Random resized crops (80-100% of the side, any position) and horizontal flips.

    Colours are left alone: the captions name them.
    """
    n = x.shape[0]
    scale = 0.8 + 0.2 * torch.rand(n, generator=gen)
    tx = (torch.rand(n, generator=gen) * 2 - 1) * (1 - scale)
    ty = (torch.rand(n, generator=gen) * 2 - 1) * (1 - scale)
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = scale * flip
    theta[:, 0, 2] = tx
    theta[:, 1, 1] = scale
    theta[:, 1, 2] = ty
    grid = F.affine_grid(theta.to(x.device), [n, x.shape[1], out_size, out_size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _to_input(images_u8: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, size: int,
              gen: torch.Generator | None) -> torch.Tensor:
    x = images_u8.permute(0, 3, 1, 2).float() / 255
    if gen is not None:
        x = _augment(x, gen, size)
    elif x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
    return (x - mean) / std


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------


def _save_checkpoint(out: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
    from safetensors.torch import save

    from studio.core.atomic import atomic_write_bytes, atomic_write_text

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for pid, pstate in opt["state"].items():
        for key, value in pstate.items():
            value = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            tensors[f"optimizer.{pid}.{key}"] = value.detach().cpu().contiguous()
    state = dict(state, param_groups=[{k: v for k, v in g.items() if k != "params"} for g in opt["param_groups"]])
    text = json.dumps(state)
    atomic_write_bytes(out / CHECKPOINT_NAME, save(tensors, metadata={"format": _FORMAT, "state": text}))
    atomic_write_text(out / CHECKPOINT_STATE_NAME, json.dumps(state, indent=2) + "\n")


def _load_checkpoint(out: Path) -> tuple[dict[str, torch.Tensor], dict] | None:
    from safetensors import safe_open

    path = out / CHECKPOINT_NAME
    if not path.is_file():
        return None
    with safe_open(str(path), framework="pt", device="cpu") as f:
        meta = f.metadata() or {}
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a studio CLIP training checkpoint")
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return tensors, json.loads(meta["state"])


def _restore(model: torch.nn.Module, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
             state: dict) -> None:
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    opt = optimizer.state_dict()
    per_param: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, pid, name = key.split(".", 2)
            per_param.setdefault(int(pid), {})[name] = value
    opt["state"] = per_param
    for group, saved in zip(opt["param_groups"], state.get("param_groups", [])):
        group.update({k: v for k, v in saved.items() if k != "params"})
    optimizer.load_state_dict(opt)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def _lr_at(step: int, total: int, warmup: int, lr: float) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train_clip(
    out_dir: str | Path,
    *,
    images: int = 20000,
    resolution: int = 64,
    epochs: int = 16,
    batch: int = 128,
    lr: float = 2e-3,
    weight_decay: float = 0.1,
    seed: int = 0,
    config_path: str | Path | dict | None = None,
    data: str | Path | None = None,
    device: str | torch.device = "auto",
    eval_images: int = 600,
    progress: Callable[[str, int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    resume: bool = True,
) -> dict:
    """Train the small CLIP contrastively on procedural paintings; returns a summary.

    Args:
        out_dir: the output folder (checkpoint while training; the CLIP folder at the end).
        images: how many paintings (seeds ``seed * images ...``, all below :data:`EVAL_SEED_START`),
            or at most this many from ``data``.
        resolution: the side the paintings are painted at (the model's input size is its config's).
        epochs, batch, lr, weight_decay: AdamW with a linear warm-up and a cosine schedule.
        seed: seeds the paintings (unless ``data``), the initialisation, shuffling and crops.
        config_path: the open_clip model config (a JSON file or a dict); default
            ``models/default-clip-config.json``.
        data: a ``studio procedural`` folder (with ``captions.jsonl``) to read instead of painting.
        device: "auto", "cpu", "cuda", ...
        eval_images: held-out paintings for :func:`evaluate_zero_shot` at the end (0: skip).
        progress: ``progress(stage, done, total)``; stages "paint"/"read", "train" (steps), "eval".
        should_cancel: polled every step; when it returns True training stops after saving a
            checkpoint, and the summary says ``"cancelled": True`` (no final weights are written).
        resume: continue from ``out_dir/checkpoint.safetensors`` when it exists.

    Returns:
        ``{"out_dir", "epochs_done", "losses" (mean loss per epoch), "parameters", "weights_bytes",
        "cancelled", "accuracy" (or None)}``.
    """
    from safetensors.torch import save_file

    from studio.core.atomic import atomic_path, atomic_write_text
    from studio.data.procedural import caption_vocabulary, example_prompts

    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    images, resolution, epochs, batch = int(images), int(resolution), int(epochs), int(batch)
    if images < 2 or resolution < 8 or epochs < 1 or batch < 2:
        raise ValueError("need at least 2 images, 8 px, 1 epoch and a batch of 2")
    if data is None and seed * images + images > EVAL_SEED_START:
        raise ValueError(f"training seeds must stay below {EVAL_SEED_START} (the held-out seeds)")
    config = load_config(config_path)
    dev = pick_device(device)
    torch.manual_seed(seed)
    model, tokenizer, (mean, std) = build_model(config)
    size = _image_size(config)
    parameters = sum(p.numel() for p in model.parameters())
    settings = {"images": images, "resolution": resolution, "batch": batch, "seed": seed,
                "data": str(Path(data).expanduser().resolve()) if data is not None else None, "config": config}

    if data is not None:
        pixels, captions, _ = _read_set(Path(data).expanduser(), resolution, images, progress)
    else:
        pixels, captions, _ = _paint_set(range(seed * images, seed * images + images), resolution, progress)
    n = len(captions)
    tokens = tokenizer(captions)
    pixels_t = torch.from_numpy(pixels)
    steps_per_epoch = max(1, n // batch) if n >= batch else 1
    total_steps = steps_per_epoch * epochs
    warmup = max(1, min(500, total_steps // 20))

    model = model.to(dev).train()
    decay = [p for name, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in name]
    no_decay = [p for name, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in name)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98), eps=1e-6)
    start_epoch, losses = 0, []
    found = _load_checkpoint(out) if resume else None
    if found is not None:
        tensors, state = found
        if state.get("settings") != json.loads(json.dumps(settings)):
            raise ValueError(f"{out / CHECKPOINT_NAME} was trained with other settings; "
                             "use another folder or start afresh (resume=False)")
        _restore(model, optimizer, tensors, state)
        start_epoch, losses = int(state["epoch"]), list(state.get("losses", []))
    mean_t = torch.tensor(mean, device=dev).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=dev).view(1, 3, 1, 1)
    use_amp = dev.type == "cuda"
    cancelled = False
    started = time.time()
    for epoch in range(start_epoch, epochs):
        gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
        order = torch.randperm(n, generator=gen)
        total, count = 0.0, 0
        for i in range(steps_per_epoch):
            step = epoch * steps_per_epoch + i
            for group in optimizer.param_groups:
                group["lr"] = _lr_at(step, total_steps, warmup, lr)
            idx = order[i * batch:(i + 1) * batch]
            x = _to_input(pixels_t[idx].to(dev), mean_t, std_t, size, gen)
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=use_amp):
                img = F.normalize(model.encode_image(x).float(), dim=-1)
                txt = F.normalize(model.encode_text(tokens[idx].to(dev)).float(), dim=-1)
            logits = model.logit_scale.exp().float() * img @ txt.t()
            target = torch.arange(len(idx), device=dev)
            loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            total += float(loss.detach()) * len(idx)
            count += len(idx)
            if progress is not None:
                progress("train", step + 1, total_steps)
            if should_cancel is not None and should_cancel():
                cancelled = True
                break
        if cancelled:
            break   # a partial epoch is not saved: resuming repeats it from its start
        losses.append(total / max(1, count))
        _save_checkpoint(out, model, optimizer, {
            "format": _FORMAT, "epoch": epoch + 1, "epochs": epochs, "losses": losses, "settings": settings,
            "lr": lr, "weight_decay": weight_decay, "seconds": round(time.time() - started, 1)})

    summary: dict[str, Any] = {"out_dir": str(out), "epochs_done": len(losses), "losses": losses,
                               "parameters": parameters, "weights_bytes": None, "cancelled": cancelled,
                               "accuracy": None}
    if cancelled:
        return summary
    model = model.eval().cpu()
    atomic_write_text(out / "config.json", json.dumps(config, indent=2) + "\n")
    with atomic_path(out / "weights.safetensors") as temp:
        save_file({k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()},
                  str(temp), metadata={"format": "pt"})
    with contextlib.suppress(OSError):
        (out / "weights.safetensors").chmod(0o644)
    atomic_write_text(out / "vocabulary.txt", "\n".join(caption_vocabulary()) + "\n")
    atomic_write_text(out / "prompts.txt", "\n".join(example_prompts()) + "\n")
    summary["weights_bytes"] = (out / "weights.safetensors").stat().st_size
    if eval_images > 0:
        seeds = range(EVAL_SEED_START, EVAL_SEED_START + int(eval_images))
        summary["accuracy"] = evaluate_zero_shot(out, seeds, resolution, device=dev, progress=progress)
    _write_model_card(out, summary, settings, epochs, lr, eval_images)
    return summary


# ---------------------------------------------------------------------------------------------
# Zero-shot evaluation
# ---------------------------------------------------------------------------------------------


def zero_shot_descriptions() -> list[tuple[str, dict[str, str]]]:
    """Every description the caption grammar makes from the class names, with its classes.

    ``[(text, {"family", "colour", "shape"}), ...]``: each family with each of its shapes, each
    dominant colour on each other background colour, and, for the families whose captions name
    two colours, each second colour, and for those whose captions give one, each size (line colours
    are left out). About 8,600 texts.
    """
    from studio.data.procedural import COLOR_NAMES, FAMILIES, FAMILY_SHAPES, SIZE_WORDS, caption_for

    colours = list(COLOR_NAMES)
    out: list[tuple[str, dict[str, str]]] = []
    seen: set[str] = set()
    for family in FAMILIES:
        for shape in FAMILY_SHAPES[family]:
            for c1 in colours:
                for bg in colours:
                    if bg == c1:
                        continue
                    seconds = [c for c in colours if c not in (c1, bg)] if family in TWO_COLOUR_FAMILIES else [None]
                    sizes = SIZE_WORDS if family in SIZED_FAMILIES else [None]
                    for c2 in seconds:
                        for size in sizes:
                            text = caption_for(family, shape=shape, dominant_color=c1, second_color=c2,
                                               background_color=bg, size=size)
                            if text not in seen:   # drips have no size: one text for both
                                seen.add(text)
                                out.append((text, {"family": family, "colour": c1, "shape": shape}))
    return out


#: Families whose captions name a second colour ("brown and pink stripes").
TWO_COLOUR_FAMILIES = ("grid", "colour field", "radial")
#: Families whose captions give a size ("large black circles", "thin red strokes").
SIZED_FAMILIES = ("geometric", "gestural", "biomorphic")


def evaluate_zero_shot(
    scorer_or_dir: Any,
    seeds: Sequence[int] | Iterable[int] = range(EVAL_SEED_START, EVAL_SEED_START + 600),
    resolution: int = 64,
    *,
    device: str | torch.device = "cpu",
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, float]:
    """Zero-shot top-1 accuracy on procedural paintings of ``seeds``: family, dominant colour, main shape.

    ``scorer_or_dir`` is a loaded :class:`~studio.clip.scorer.ClipScorer` or anything
    :func:`~studio.clip.model.load_clip` opens (e.g. a trained folder). Each painting is matched
    against all :func:`zero_shot_descriptions` (built from the class names alone, never from the
    painting's caption); the best-matching description's family, colour and shape are the
    predictions. Like CLIP's prompt ensembles, the descriptions spell out the attributes that
    are not being asked about (the background, a second colour), which a bag-of-words text
    encoder needs to tell "black circles on dark blue" from "dark blue circles on black".
    """
    from studio.clip.model import load_clip
    from studio.clip.scorer import ClipScorer

    scorer = scorer_or_dir if isinstance(scorer_or_dir, ClipScorer) else load_clip(str(scorer_or_dir), device)
    pixels, _, attributes = _paint_set(seeds, int(resolution))
    if progress is not None:
        progress("eval", len(attributes), len(attributes))
    named = zero_shot_attributes(scorer, scorer.encode_images(pixels))
    truth = {"family": "family", "colour": "dominant_color", "shape": "shape"}
    result = {}
    for task, key in truth.items():
        hits = sum(n[task] == a[key] for n, a in zip(named, attributes))
        result[task] = hits / max(1, len(attributes))
    return result


def zero_shot_attributes(scorer: Any, features: Any) -> list[dict[str, str]]:
    """For each image's CLIP features, the ``family``, ``colour`` and ``shape`` of the best-matching
    of all :func:`zero_shot_descriptions`."""
    feats = torch.as_tensor(features).float()
    descriptions = zero_shot_descriptions()
    texts = [text for text, _ in descriptions]
    best_score = torch.full((feats.shape[0],), -math.inf)
    best = torch.zeros(feats.shape[0], dtype=torch.long)
    with torch.inference_mode():
        for start in range(0, len(texts), 512):
            sims = feats @ scorer.encode_text(texts[start:start + 512]).float().t()
            score, index = sims.max(dim=1)
            better = score > best_score
            best_score = torch.where(better, score, best_score)
            best = torch.where(better, index + start, best)
    return [descriptions[int(b)][1] for b in best]


def _write_model_card(out: Path, summary: dict, settings: dict, epochs: int, lr: float, eval_images: int) -> None:
    from studio.core.atomic import atomic_write_text
    from studio.data.procedural import COLOR_NAMES, FAMILIES, SHAPE_NAMES

    acc = summary.get("accuracy") or {}
    size = summary.get("weights_bytes") or 0
    lines = [
        "# Default CLIP of the GAN Art Studio",
        "",
        "A small open_clip CLIP (`config.json`, `weights.safetensors` in float16) trained contrastively "
        "from scratch on procedural abstract paintings (`studio.data.procedural`) and their captions. "
        "It knows the words in `vocabulary.txt` and little else.",
        "",
        f"- parameters: {summary['parameters']:,} ({size / 1e6:.1f} MB in float16)",
        f"- training: {settings['images']} images at {settings['resolution']} px"
        f"{' from ' + settings['data'] if settings['data'] else ' (seeds from ' + str(settings['seed'] * settings['images']) + ')'}, "
        f"{epochs} epochs, batch {settings['batch']}, AdamW lr {lr} (cosine), seed {settings['seed']}",
        f"- final training loss: {summary['losses'][-1]:.4f}" if summary["losses"] else "- final training loss: n/a",
        "",
        "## Zero-shot accuracy (top-1)",
        "",
    ]
    if acc:
        lines += [
            f"On {eval_images} held-out paintings (seeds {EVAL_SEED_START} onwards, never seen in training). "
            f"Each painting is matched against the {len(zero_shot_descriptions()):,} descriptions the caption "
            "grammar makes from the class names alone (every family with each of its shapes, each dominant "
            "colour on each other background and, where captions give them, each size and second colour); "
            "the best match's family, colour and shape are the predictions.",
            "",
            "| task | classes | accuracy |",
            "| --- | --- | --- |",
            f"| family | {len(FAMILIES)} | {acc['family']:.1%} |",
            f"| dominant colour | {len(COLOR_NAMES)} | {acc['colour']:.1%} |",
            f"| main shape | {len(SHAPE_NAMES)} | {acc['shape']:.1%} |",
        ]
    else:
        lines.append("Not measured.")
    lines += ["", "Reproduce with:", "",
              f"    studio train-clip --out DIR --images {settings['images']} --res {settings['resolution']} "
              f"--epochs {epochs} --batch {settings['batch']} --seed {settings['seed']}", ""]
    atomic_write_text(out / "README.md", "\n".join(lines))
