"""The train-clip command: train (or evaluate) the small default CLIP on procedural paintings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.cli.common import CliError
from studio.core.device import pick_device


def cmd_train_clip(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from studio.training.clip_train import EVAL_SEED_START, evaluate_zero_shot, train_clip

    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise CliError(f"{out} is a file, not a folder")
    for name, value, least in (("--images", args.images, 2), ("--res", args.res, 8), ("--epochs", args.epochs, 1),
                               ("--batch", args.batch, 2), ("--eval-images", args.eval_images, 1)):
        if value < least:
            raise CliError(f"{name} must be at least {least}, got {value}")
    if args.data is not None and not (Path(args.data).expanduser() / "captions.jsonl").is_file():
        raise CliError(f"{args.data} has no captions.jsonl; write a dataset with `studio procedural` first")
    if args.evaluate_only:
        from studio.clip.model import ClipError

        seeds = range(EVAL_SEED_START, EVAL_SEED_START + args.eval_images)
        try:
            accuracy = evaluate_zero_shot(str(out), seeds, args.res, device=pick_device(args.device))
        except ClipError as exc:
            raise CliError(str(exc)) from None
        _print_accuracy(accuracy, args.eval_images)
        return 0
    bars: dict = {}
    labels = {"paint": "paint", "read": "read", "train": "train", "eval": "evaluate"}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            for bar in bars.values():
                bar.close()
            bars[stage] = tqdm(total=total, desc=labels.get(stage, stage), unit="step" if stage == "train" else "img",
                               file=sys.stderr, dynamic_ncols=True, disable=None)
        bars[stage].update(done - bars[stage].n)

    try:
        summary = train_clip(out, images=args.images, resolution=args.res, epochs=args.epochs, batch=args.batch,
                             lr=args.lr, seed=args.seed, config_path=args.config, data=args.data,
                             device=pick_device(args.device), eval_images=args.eval_images, progress=progress,
                             resume=not args.restart)
    except (ValueError, FileNotFoundError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write to {out}: {exc.strerror or exc}") from None
    finally:
        for bar in bars.values():
            bar.close()
    size = (summary["weights_bytes"] or 0) / 1e6
    print(f"trained {summary['epochs_done']} epochs (final loss {summary['losses'][-1]:.4f}); "
          f"{summary['parameters']:,} parameters, {size:.1f} MB in {out}")
    if summary["accuracy"]:
        _print_accuracy(summary["accuracy"], args.eval_images)
    return 0


def _print_accuracy(accuracy: dict, count: int) -> None:
    print(f"zero-shot top-1 on {count} held-out paintings: family {accuracy['family']:.1%}, "
          f"dominant colour {accuracy['colour']:.1%}, main shape {accuracy['shape']:.1%}")


def add_parsers(sub) -> None:
    """Subcommands: train-clip."""
    p = sub.add_parser("train-clip", help="train the small default CLIP on procedural paintings", description=(
        "Paint procedural abstract paintings with captions (or read a `studio procedural` folder with --data), train "
        "a small open_clip CLIP on them contrastively, and write OUT/config.json, weights.safetensors (float16), "
        "vocabulary.txt and a model card README.md with zero-shot accuracies (family, dominant colour, main shape) "
        "on held-out paintings. Checkpoints every epoch to OUT/checkpoint.safetensors and resumes from it. "
        "Use the result with --clip OUT, or copy it to models/default-clip."))
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--images", type=int, default=20000, metavar="N", help="training images (default 20000)")
    p.add_argument("--res", type=int, default=64, metavar="PX", help="painting size in pixels (default 64)")
    p.add_argument("--epochs", type=int, default=16, metavar="E", help="epochs (default 16)")
    p.add_argument("--batch", type=int, default=128, metavar="B", help="batch size (default 128)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--config", default=None, metavar="JSON",
                   help="open_clip model config (default: models/default-clip-config.json)")
    p.add_argument("--data", default=None, metavar="PROCEDURAL_DIR",
                   help="read images and captions from a `studio procedural` folder instead of painting them")
    p.add_argument("--eval-images", type=int, default=600, metavar="N",
                   help="held-out paintings for the zero-shot accuracies (default 600)")
    p.add_argument("--evaluate-only", action="store_true", help="only measure the zero-shot accuracies of OUT")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint in OUT and start afresh")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    p.set_defaults(func=cmd_train_clip)
