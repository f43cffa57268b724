"""Projection quality and time on the CPU, where the truth is known and where it is not.

1. Pictures the model made itself from held-out seeds (1,000,000 + k, never a seed the studio
   shows by default), each class in turn for a conditional model: projected in W and in W+;
   PSNR and MS-SSIM against the picture, and seconds per picture.
2. Pictures the model never made: procedural paintings from the studio's painter with seeds
   outside any training set, cropped to the model's square: the same figures, and a sheet of
   target / W / W+ for the eye.

    python benchmarks/projection.py [--network default] [--count 20] [--steps 300] [--start-seeds 256]
                                    [--paintings 5] [--threads 2] [--out projection-bench] [--ablation N]

``--ablation N`` instead compares the loss terms and the start search on N held-out pictures in
W+: L1 alone, L1 + MS-SSIM (the default), + the discriminator's features, + the default CLIP,
and 16 / 256 / 2048 random starts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--network", default="default")
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--start-seeds", type=int, default=256)
    p.add_argument("--paintings", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="projection-bench")
    p.add_argument("--ablation", type=int, default=0, metavar="N")
    args = p.parse_args()

    import numpy as np
    import torch
    from PIL import Image

    from studio.app.projection import fit_picture
    from studio.gan.formats import load_network
    from studio.gan.project import project
    from studio.gan.render import Renderer
    from studio.gan.render_settings import RenderSettings

    torch.set_num_threads(args.threads)
    renderer = Renderer(load_network(args.network), device="cpu")
    G = renderer.G
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"{renderer.network.name}: {G.img_resolution} px, {args.steps} steps, best of {args.start_seeds} starts, "
          f"{args.threads} threads")

    if args.ablation:
        ablation(renderer, args)
        return

    def run(target, klass):
        row = {}
        for space in ("w", "w+"):
            result = project(renderer, target, space=space, steps=args.steps, start_seeds=args.start_seeds,
                             class_index=klass)
            row[space] = result
        return row

    figures = {"w": [], "w+": []}
    for k in range(args.count):
        klass = k % G.c_dim if G.c_dim else None
        settings = RenderSettings(class_index=klass)
        (_, target), = renderer.render_seeds([1_000_000 + k], settings)
        row = run(target, klass)
        for space, result in row.items():
            figures[space].append((result.psnr, result.ms_ssim, result.seconds))
        print(f"held-out {k:2d}: W {row['w'].psnr:5.2f} dB / {row['w'].ms_ssim:.4f} ({row['w'].seconds:.1f} s), "
              f"W+ {row['w+'].psnr:5.2f} dB / {row['w+'].ms_ssim:.4f} ({row['w+'].seconds:.1f} s)")
    summary = {}
    for space, rows in figures.items():
        summary[space] = {"psnr_db": statistics.mean(r[0] for r in rows), "min_psnr_db": min(r[0] for r in rows),
                          "ms_ssim": statistics.mean(r[1] for r in rows), "seconds": statistics.mean(r[2] for r in rows)}
        s = summary[space]
        print(f"{space:3s}: mean PSNR {s['psnr_db']:.2f} dB (lowest {s['min_psnr_db']:.2f}), mean MS-SSIM "
              f"{s['ms_ssim']:.4f}, {s['seconds']:.1f} s per picture")

    if args.paintings:
        from studio.data.procedural import FAMILIES, paint

        tiles = []
        for k in range(args.paintings):
            family = FAMILIES[k % len(FAMILIES)]
            painting = np.asarray(paint(9_000_000 + k, G.img_resolution * 2, family).image.convert("RGB"))
            target = fit_picture(painting, G.img_resolution, "crop")
            klass = (FAMILIES.index(family) % G.c_dim) if G.c_dim else None
            row = run(target, klass)
            tiles.append(np.concatenate([target, row["w"].image, row["w+"].image], axis=1))
            print(f"painting {k} ({family}): W {row['w'].psnr:5.2f} dB / {row['w'].ms_ssim:.4f}, "
                  f"W+ {row['w+'].psnr:5.2f} dB / {row['w+'].ms_ssim:.4f}")
        Image.fromarray(np.concatenate(tiles, axis=0)).save(out / "paintings.png")
        print(f"wrote {out / 'paintings.png'} (rows: painting, W, W+)")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


def ablation(renderer, args) -> None:
    import statistics

    from studio.clip.model import load_clip
    from studio.gan.project import project
    from studio.gan.render_settings import RenderSettings

    G = renderer.G
    clip = load_clip("default")
    variants = {
        "L1 only": dict(ssim_weight=0.0),
        "L1 + MS-SSIM (default)": {},
        "+ D features": dict(use_discriminator=True) if renderer.network.D is not None else None,
        "+ CLIP 0.5": dict(clip=clip, clip_weight=0.5),
        "16 starts": dict(start_seeds=16),
        "2048 starts": dict(start_seeds=2048),
    }
    results = {name: [] for name, v in variants.items() if v is not None}
    for k in range(args.ablation):
        klass = k % G.c_dim if G.c_dim else None
        settings = RenderSettings(class_index=klass)
        (_, target), = renderer.render_seeds([2_000_000 + k], settings)
        for name in results:
            options = dict(space="w+", steps=args.steps, start_seeds=args.start_seeds, class_index=klass)
            options.update(variants[name])
            r = project(renderer, target, **options)
            results[name].append((r.psnr, r.ms_ssim, r.seconds))
        print(f"picture {k} done")
    for name, rows in results.items():
        print(f"{name:24s}: PSNR {statistics.mean(r[0] for r in rows):6.2f} dB, MS-SSIM "
              f"{statistics.mean(r[1] for r in rows):.4f}, {statistics.mean(r[2] for r in rows):5.1f} s")


if __name__ == "__main__":
    t0 = time.time()
    main()
    print(f"total {time.time() - t0:.0f} s")
