"""The train command (and several processes under torchrun)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from studio.cli.common import CliError, add_clip_options, progress_bar


def cmd_train(args: argparse.Namespace) -> int:
    from studio.app.runs import resolve_options
    from studio.training.default_model import training_overrides

    overrides = {k: getattr(args, k) for k in (
        "data", "resume", "kimg", "batch", "gamma", "aug", "target", "p", "ada_kimg", "mirror", "cond", "as_class", "snap",
        "tick_kimg", "res", "preset", "lr", "pl_weight", "freeze_d", "blur_sigma", "blur_kimg", "clip_d", "mode_seeking",
        "seed", "device", "workers", "metrics", "metric_images", "clip", "clip_config")}
    overrides["mirror"] = True if args.mirror else None
    overrides["cond"] = True if args.cond else None
    if args.paintings and args.data:
        print("error: --paintings chooses the default model's training images; it cannot be used with --data",
              file=sys.stderr)
        return 2
    painting = {"bar": None}

    def paint_progress(stage: str, done: int, total: int) -> None:
        if painting["bar"] is None:
            painting["bar"] = progress_bar(total, "paint the training set")
        painting["bar"].update(done - painting["bar"].n)

    overrides, notes = training_overrides(overrides, args.outdir, paint_progress, paintings=args.paintings)
    if painting["bar"] is not None:
        painting["bar"].close()
    for note in notes:
        print(note, file=sys.stderr)
    options = resolve_options(overrides, args.outdir)
    if args.gpus > 1:
        return _train_distributed(options, args.gpus)
    from studio.training import train

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

    def on_sigint(signum, frame) -> None:  # first Ctrl+C or kill: finish the step, snapshot; second: quit now
        if stop["asked"]:
            raise KeyboardInterrupt
        stop["asked"] = True
        say("stopping after this step (Ctrl+C again to quit without a snapshot)")

    previous = signal.signal(signal.SIGINT, on_sigint)
    previous_term = signal.signal(signal.SIGTERM, on_sigint)
    try:
        with progress_bar(int(round(options.kimg * 1000)), "train") as bar:
            bar.unit = "img"

            def on_progress(kimg: float, total: float) -> None:
                bar.update(int(round(kimg * 1000)) - bar.n)

            result = train(options, progress_fn=on_progress, abort_fn=lambda: stop["asked"], event_fn=on_event)
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
    how = "stopped" if result.reason == "stopped" else "finished"
    print(f"{how} at {result.kimg:.3f} kimg; last snapshot {result.snapshot}" if result.snapshot else
          f"{how} at {result.kimg:.3f} kimg", file=sys.stderr)
    return 0


def _train_distributed(options, gpus: int) -> int:
    """Run the worker under torchrun on ``gpus`` processes and relay its events."""
    import subprocess

    from studio.app.runs import torchrun_command, worker_env

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


def cmd_publish_default(args: argparse.Namespace) -> int:
    from studio.training.default_model import keep_resumable, publish
    from studio.training.runs import find_latest_snapshot, latest_run_dir

    snapshot = args.snapshot
    if snapshot == "latest":
        run = latest_run_dir(args.outdir)
        found = find_latest_snapshot(run) if run is not None else None
        if found is None:
            raise CliError(f"no training snapshot in {args.outdir}; train first (studio train --resume latest)")
        snapshot = found
    snapshot = Path(snapshot).expanduser()
    if not snapshot.is_file():
        raise CliError(f"{snapshot} does not exist")
    if args.resumable_only and args.weights_only:
        raise CliError("--resumable-only and --weights-only exclude each other")
    if not args.weights_only:
        try:
            kept = keep_resumable(snapshot)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        print(f"resumable snapshot {snapshot.name} -> {kept} ({kept.stat().st_size / 1e6:.1f} MB)")
    if args.resumable_only:
        return 0
    bars: dict[str, object] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = progress_bar(total, stage)
        bar.update(done - bar.n)

    try:
        info = publish(snapshot, fd_images=args.fd_images, note=args.note, progress=progress)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    finally:
        for bar in bars.values():
            bar.close()
    print(f"published {snapshot.name} ({info['training']['kimg']:.1f} kimg): models/default-abstract.safetensors "
          f"({info['bytes'] / 1e6:.1f} MB), models/default-abstract.md, resources/default-abstract-samples.png")
    print(f"FD-CLIP {info['fd']['fd_clip']:.4f} vs held-out paintings "
          f"(training vs held-out: {info['fd']['fd_clip_training_vs_held_out']:.4f})")
    return 0


def add_parsers(sub) -> None:
    """Subcommands: train, publish-default."""
    p = sub.add_parser("train", help="train or fine-tune a StyleGAN2-ADA model on a prepared dataset", description=(
        "Train a StyleGAN2 generator with adaptive discriminator augmentation (ADA) on a folder made by "
        "`studio prepare`. Each run gets its own folder in --outdir (NNNNN-<dataset>-<preset>) with "
        "training_options.json, stats.jsonl, reals.png, and every --snap ticks a snapshot "
        "(network-snapshot-KKKKKK.safetensors, openable like any model) with a preview grid of fixed seeds. "
        "--resume latest continues the newest run in --outdir exactly (kimg, ADA p, optimiser, EMA); "
        "--resume FILE continues a snapshot, or fine-tunes any other network (NVIDIA .pkl, rosinality .pt, "
        "studio .safetensors). Ctrl+C stops after the current step and writes a snapshot; so does a file named "
        "STOP in the run folder. Without --data this trains the bundled default model: conditionally on the six "
        "families of procedural paintings, painted afresh for every image (--paintings cached: 20,000 painted "
        "into the cache once), and with "
        "--resume latest and no run in --outdir continues whichever is further along: the snapshot committed in "
        "models/training/ or the published weights (whose optimiser state starts afresh)."))
    p.add_argument("--data", default=None, metavar="DIR",
                   help="prepared dataset folder (or zip); default: the default model's procedural paintings")
    p.add_argument("--paintings", choices=("fresh", "cached"), default=None,
                   help="without --data, what the default model trains on: paintings painted afresh for every "
                        "image, about 7 ms each, so the discriminator never sees one twice (fresh, the default), or "
                        "the 20,000 paintings painted into the cache once (cached)")
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
    p.add_argument("--as-class", dest="as_class", type=int, default=None, metavar="K",
                   help="fine-tuning a conditional network (such as the default model) on images without labels: "
                        "they all train class K (default 0)")
    p.add_argument("--snap", type=int, default=None, metavar="TICKS", help="snapshot every N ticks (default 10)")
    p.add_argument("--tick", dest="tick_kimg", type=float, default=None, metavar="KIMG",
                   help="kimg per tick: progress line and stats.jsonl entry (default 4)")
    p.add_argument("--res", type=int, default=None, metavar="PX", help="training resolution (default: the dataset's)")
    p.add_argument("--preset", default=None,
                   choices=("small", "default-abstract", "auto", "paper256", "dcgan", "stylegan3-t", "stylegan3-r"),
                   help="network size (default default-abstract: the bundled model's size, trainable on a CPU; auto and paper256 want a GPU); dcgan: a DCGAN instead of "
                        "StyleGAN2 (64 or 128 px, BCE, Adam 2e-4 / beta1 0.5) for quick sketches on tiny datasets; "
                        "stylegan3-t / stylegan3-r: a StyleGAN3 (translation / rotation equivariant; fine-tuning a "
                        "StyleGAN3 file trains StyleGAN3 whatever the preset)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default 0.0025; 0.0002 with --preset dcgan)")
    p.add_argument("--pl-weight", type=float, default=None, metavar="W", help="path-length regularisation (default 0 = off)")
    p.add_argument("--freeze-d", type=int, default=None, metavar="N", help="freeze the first N discriminator blocks")
    p.add_argument("--blur-sigma", type=float, default=None, metavar="PX",
                   help="blur every image the discriminator sees by PX pixels (Gaussian sigma) at the start, so "
                        "the generator learns composition before texture; fades to none at --blur-kimg (default 0 "
                        "= off; the default model uses 8)")
    p.add_argument("--blur-kimg", type=float, default=None, metavar="KIMG",
                   help="kimg at which the discriminator blur has faded to none (default 100)")
    p.add_argument("--clip-d", type=float, default=None, metavar="WEIGHT",
                   help="add a second discriminator that judges images by the CLIP's features (--clip), with "
                        "this loss weight: it rewards composition, shapes and colours the CLIP knows (default 0 = "
                        "off; the default model uses 0.5 with the default CLIP)")
    p.add_argument("--mode-seeking", type=float, default=None, metavar="WEIGHT",
                   help="MSGAN's mode-seeking term with this loss weight: pairs of latents of the same class are "
                        "pushed to give different images, against a generator that draws one picture per class "
                        "(default 0 = off)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="data-loading processes (default 2)")
    p.add_argument("--metrics", action=argparse.BooleanOptionalAction, default=None,
                   help="at each snapshot, FD-CLIP and KID-CLIP (Frechet / kernel distance of CLIP image features "
                        "of real and generated images; not Inception FID) into metrics.jsonl (default: on)")
    p.add_argument("--metric-images", type=int, default=None, metavar="N",
                   help="real and generated images for the metrics (default 256)")
    add_clip_options(p, "computes FD-CLIP and KID")
    p.add_argument("--gpus", type=int, default=1, metavar="N", help="processes / GPUs, run under torchrun (default 1)")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda or mps")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("publish-default", help="make a default-model snapshot the bundled default generator",
                       description=(
        "Copy SNAPSHOT to models/training/default-abstract-resume.safetensors (the one committed resumable "
        "snapshot), then write the bundled generator models/default-abstract.safetensors (float16, with its "
        "discriminator, family names and prompt keywords), the 4 x 4 sample grid "
        "resources/default-abstract-samples.png and the model card models/default-abstract.md with FD-CLIP "
        "against held-out paintings (scored by the default CLIP)."))
    p.add_argument("snapshot", metavar="SNAPSHOT", help="a training snapshot, or 'latest' (the newest in --outdir)")
    p.add_argument("--outdir", default="training-runs", metavar="RUNS", help="folder of runs for 'latest'")
    p.add_argument("--fd-images", type=int, default=1000, metavar="N",
                   help="images per set for FD-CLIP (default 1000)")
    p.add_argument("--note", default=None, metavar="TEXT", help="a status line for the model card")
    p.add_argument("--resumable-only", action="store_true",
                   help="only update the committed resumable snapshot (while training goes on)")
    p.add_argument("--weights-only", action="store_true",
                   help="write the model, card and samples but leave the committed resumable snapshot as it is "
                        "(the final weights, when the git history has no room for another snapshot)")
    p.set_defaults(func=cmd_publish_default)
