"""Dataset commands: prepare and procedural."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from studio.cli.common import CliError, add_clip_options, clip_choice, progress_bar


def cmd_prepare(args: argparse.Namespace) -> int:
    from studio.data.prepare import prepare

    clip_spec, clip_config, device = "default", None, "cpu"
    if args.clip_filter is not None:
        from studio.core.device import pick_device

        clip_spec, clip_config = clip_choice(args)
        device = str(pick_device(args.device))
    elif args.keep is not None:
        raise CliError("--keep needs --clip-filter PHRASE (it keeps the pictures that best match the phrase)")
    bars: dict = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            for bar in bars.values():
                bar.close()
            bars[stage] = progress_bar(total, {"check": "check", "crop": "crop", "clip": "CLIP"}.get(stage, stage))
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
    with progress_bar(args.count, "procedural") as bar:
        try:
            write_dataset(out, args.count, args.res, start_seed=args.start_seed, families=families,
                          progress=lambda done, total: bar.update(done - bar.n), workers=args.workers)
        except OSError as exc:
            raise CliError(f"cannot write the dataset to {out}: {exc.strerror or exc}") from None
    print(f"wrote {args.count} procedural painting{'s' * (args.count != 1)} at {args.res} px with labels and "
          f"captions to {out}")
    return 0


def add_parsers(sub) -> None:
    """Subcommands: prepare, procedural."""
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
    add_clip_options(p, "filters the crops")
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
    p.add_argument("--workers", type=int, default=os.cpu_count(), metavar="N",
                   help=f"painting processes (default: one per CPU, {os.cpu_count()} here)")
    p.set_defaults(func=cmd_procedural)
