"""A full default MAGnet evolution on the CPU, timed per phase, against the 60 s target.

The run: population 200, 4 parents, 5 generations of 4 + 16 (the parents carry their scores
over, so 200 + 5 x 16 = 280 images are rendered and scored), W space, prompt "an abstract
painting with orange triangles". Models, both with random weights (nothing is downloaded):

* generator: paper256 (256 px, channel_base 16384, channel_max 512, 8 mapping layers,
  conv_clamp 256; 24.8 M parameters), const noise;
* CLIP: open_clip ViT-B-32 (224 px input) wrapped in the studio's ClipScorer.

With ``--default`` the run uses the bundled default models instead (the 128 px conditional
generator, class geometric, and the small default CLIP), as an artist's first evolution does.

Phases: mapping (z -> w, including the one-off estimate of W's spread), synthesis, CLIP image
encoding, the rest of scoring (prompt encoding, arithmetic), breeding, and everything else
(uint8 conversion, bookkeeping). Building the models and a one-image warm-up are reported
apart and not counted. The reference estimate in FORMATS.md for the same run at the reference
speeds is ~72 s + ~16 s.

    python benchmarks/evolve_cpu.py [--reference PATH] [--preview 128] [--default] [--batch 4] [--score-res 256]
                                    [--threads N] [--overlap] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGET_S = 60.0
REFERENCE_S = 72.0 + 16.0   # FORMATS.md: the same run at the reference generator and CLIP speeds
PROMPT = "an abstract painting with orange triangles"


def build_generator(reference: str | None = None):
    """(the studio's paper256 network, NVIDIA's with the same weights or None)."""
    import torch

    from reference import stylegan2_pair
    from studio.gan.formats import LoadedNetwork

    G, ref = stylegan2_pair(dict(z_dim=512, w_dim=512, mapping_layers=8, conv_clamp=256, img_resolution=256,
                                 channel_base=16384, channel_max=512), reference)
    with torch.no_grad():   # a plausible w_avg, as a trained network has
        G.mapping.w_avg.copy_(G.mapping(torch.randn(256, 512), None)[:, 0].mean(0))
        if ref is not None:
            ref.mapping.w_avg.copy_(G.mapping.w_avg)
    return LoadedNetwork(G, None, "native", Path("paper256-random.safetensors"), "bench-paper256"), ref


def build_clip():
    """ViT-B-32 with random weights in the studio's scorer (no download: pretrained=None)."""
    import torch

    from studio.clip.model import import_open_clip, quiet_open_clip
    from studio.clip.scorer import ClipScorer

    open_clip = import_open_clip()
    torch.manual_seed(0)
    with quiet_open_clip():
        model = open_clip.create_model("ViT-B-32", pretrained=None, device="cpu").eval().requires_grad_(False)
        tokenizer = open_clip.get_tokenizer("ViT-B-32")
    cfg = open_clip.get_model_preprocess_cfg(model)
    return ClipScorer(model, tokenizer, name="ViT-B-32 (random weights)", image_size=224,
                      mean=cfg.get("mean", open_clip.OPENAI_DATASET_MEAN),
                      std=cfg.get("std", open_clip.OPENAI_DATASET_STD), device=torch.device("cpu"),
                      resize_mode=cfg.get("resize_mode", "shortest"), interpolation=cfg.get("interpolation", "bicubic"))


def run(batch: int, score_resolution: int | None = 256, default_models: bool = False, reference: str | None = None,
        preview: int | None = None, overlap: bool = False) -> dict:
    import torch

    from studio.clip.model import load_clip
    from studio.core.runtime import tune_allocator
    from studio.evolve.fitness import ClipFitness
    from studio.evolve.ga import Evolution, EvolveConfig
    from studio.gan.formats import load_network
    from studio.gan.render import Renderer

    tune_allocator()
    start = time.perf_counter()
    if default_models:
        renderer = Renderer(load_network("default", with_discriminator=False), device="cpu", batch_size=batch)
        scorer = load_clip("default")
    else:
        network, ref = build_generator(reference)
        renderer = Renderer(network, device="cpu", batch_size=batch)
        scorer = build_clip()
    settings = _settings(0 if renderer.G.c_dim else None)
    with torch.inference_mode():   # warm-up: one image through each network
        scorer.encode_images(renderer.G.synthesis(renderer.ws_from_seeds([0], settings)))
    setup = time.perf_counter() - start

    encode = scorer.encode_images
    clip_seconds = [0.0]

    def timed_encode(images):
        t = time.perf_counter()
        try:
            return encode(images)
        finally:
            clip_seconds[0] += time.perf_counter() - t

    scorer.encode_images = timed_encode
    fitness = ClipFitness(scorer, PROMPT)
    if score_resolution is not None and score_resolution < scorer.input_size:
        fitness.input_size = None   # what-if only: the studio never scores below CLIP's input size
    config = EvolveConfig(score_resolution=score_resolution, preview_resolution=preview)
    evolution = Evolution(renderer, fitness, config, settings=settings, overlap=overlap)
    start = time.perf_counter()
    history = evolution.run()
    total = time.perf_counter() - start
    t = dict(evolution.timings)
    phases = {
        "mapping": t.get("mapping", 0.0),
        "synthesis": t.get("synthesis", 0.0),
        "clip_encode": clip_seconds[0],
        "scoring_other": t.get("scoring", 0.0) - clip_seconds[0],
        "breeding": t.get("breeding", 0.0),
    }
    phases["other"] = total - sum(phases.values())
    images = evolution.planned_images()
    side_by_side = None
    if not default_models and ref is not None:
        side_by_side = _reference_synthesis(renderer.G, ref, images, batch)
    return {
        "reference": side_by_side, "overlap": overlap, "preview_resolution": evolution.preview_resolution,
        "total_s": total, "phases_s": phases, "images": images, "setup_s": setup,
        "score_resolution": evolution.score_resolution, "batch": batch, "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(), "best_scores": [g.best.score for g in history],
        "generation_sizes": [len(g) for g in history],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "torch": torch.__version__,
        "models": (f"default generator ({renderer.G.img_resolution} px, class 0) + {scorer.name}" if default_models
                   else "paper256 generator + ViT-B-32 CLIP, random weights"),
    }


def _reference_synthesis(G, ref, images: int, batch: int) -> dict:
    """NVIDIA's generator rendering as many images as the run did, at full size and the same batch,
    timed turn about with the studio's on the same latents (float32 both)."""
    import torch

    seconds = {"studio": 0.0, "reference": 0.0}
    z = torch.randn(images, 512, generator=torch.Generator().manual_seed(7))
    with torch.inference_mode():
        ref(z[:1], None, noise_mode="const", force_fp32=True)
        for start in range(0, images, batch):
            chunk = z[start:start + batch]
            for side, fn in (("studio", lambda: G(chunk, None, noise_mode="const")),
                             ("reference", lambda: ref(chunk, None, noise_mode="const", force_fp32=True))):
                t = time.perf_counter()
                fn()
                seconds[side] += time.perf_counter() - t
    return seconds


def _settings(class_index: int | None = None):
    from studio.gan.render_settings import RenderSettings

    return RenderSettings(class_index=class_index)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=4, help="images per batch (the CLI's CPU default is 4)")
    parser.add_argument("--score-res", type=int, default=256, metavar="PX",
                        help="score at the smallest early exit of at least PX (default 256: the full image, the "
                             "smallest at or above CLIP's 224; 0 = full). Below 224 is a what-if the studio never "
                             "does (e.g. 128: CLIP sees the 128 px preview enlarged)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--default", action="store_true", help="the bundled default generator and CLIP")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--reference", default=None, metavar="PATH",
                        help="a checkout of NVlabs/stylegan3: measure NVIDIA's generator on the run's images side by "
                             "side (the reference run = the same CLIP work + NVIDIA's rendering of every image in full)")
    parser.add_argument("--overlap", action="store_true",
                        help="run the evolution twice, scoring in turn with rendering and then on a second thread "
                             "beside it, and compare the two")
    parser.add_argument("--preview", type=int, default=None, metavar="PX",
                        help="score the initial population from this early exit, its best 16 again in full")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    result = run(args.batch, args.score_res or None, args.default, args.reference, args.preview)
    if args.overlap:
        beside = run(args.batch, args.score_res or None, args.default, None, args.preview, overlap=True)
        result["overlapped_total_s"] = beside["total_s"]
        result["overlapped_best_scores"] = beside["best_scores"]
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"MAGnet default evolution on the CPU ({result['cpus']} logical CPUs, {result['threads']} torch threads, "
          f"batch {result['batch']}, torch {result['torch']})")
    print(f"{result['models']}; {result['images']} images rendered and scored "
          f"at {result['score_resolution']} px; generations {result['generation_sizes']}")
    print(f"{'phase':<14} {'seconds':>8} {'share':>6}  per image")
    for name, seconds in result["phases_s"].items():
        print(f"{name:<14} {seconds:>8.2f} {seconds / result['total_s']:>6.1%}  {seconds / result['images'] * 1000:7.1f} ms")
    met = "met" if result["total_s"] < TARGET_S else "MISSED"
    side = result["reference"]
    if side is not None:
        phases = result["phases_s"]
        theirs = side["reference"] + phases["clip_encode"] + phases["scoring_other"] + phases["mapping"]
        reference = (f"  (reference run ~{theirs:.1f} s: NVIDIA renders the {result['images']} images in "
                     f"{side['reference']:.1f} s, measured side by side (the studio: {side['studio']:.1f} s), plus "
                     f"the same CLIP work; {theirs / result['total_s']:.2f}x)")
    elif args.default:
        reference = ""
    else:
        reference = f"  (NO --reference: stored estimate ~{REFERENCE_S:.0f} s, {REFERENCE_S / result['total_s']:.2f}x)"
    print(f"{'total':<14} {result['total_s']:>8.2f}          target < {TARGET_S:.0f} s: {met}{reference}")
    if "overlapped_total_s" in result:
        same = "the same" if result["overlapped_best_scores"] == result["best_scores"] else "DIFFERENT"
        print(f"{'overlapped':<14} {result['overlapped_total_s']:>8.2f}          scoring on a second thread beside "
              f"rendering: {result['total_s'] / result['overlapped_total_s']:.2f}x the run above ({same} best scores)")
    if result["preview_resolution"]:
        print(f"the initial population was scored from the {result['preview_resolution']} px early exit, its best 16 "
              f"again in full")
    print(f"model building and warm-up (not counted): {result['setup_s']:.1f} s; peak RSS {result['peak_rss_mib']:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
