"""Does scoring the initial population from an early exit rank it as scoring it in full does?

For each prompt and each of ``--runs`` evolution seeds, the 200 initial individuals are scored by
CLIP twice: rendered in full (the score resolution) and from the preview early exit. Printed per
prompt: the Spearman rank correlation of the two scorings over the 200, and in how many runs the
parents chosen the preview way (the best ``--rescore`` by preview, scored again in full, their
best 4) are the same 4 the full scoring picks. The issue's bar for making the preview the
default: Spearman >= 0.9 and the same 4 parents in at least 9 of 10 runs. Timings of both ways
are printed too.

The models are the bundled default generator (128 px, class by prompt) and default CLIP: the
only trained pair on this machine (a random-weight ViT-B-32 ranks nothing meaningfully).

    python benchmarks/evolve_preview.py [--runs 10] [--preview 64] [--rescore 16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPTS = (("an abstract painting with orange triangles", 0), ("a grid of coloured squares", 1),
           ("soft fields of colour", 2), ("energetic brush strokes", 3), ("concentric circles", 4))


def spearman(a, b) -> float:
    import numpy as np

    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def main() -> int:
    import numpy as np
    import torch

    from studio.app.evolution import new_evolution
    from studio.clip.model import load_clip
    from studio.evolve.ga import EvolveConfig
    from studio.gan.formats import load_network
    from studio.gan.render import Renderer
    from studio.gan.render_settings import RenderSettings

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--preview", type=int, default=64)
    p.add_argument("--rescore", type=int, default=16)
    p.add_argument("--population", type=int, default=200)
    args = p.parse_args()
    renderer = Renderer(load_network("default"), device="cpu")
    scorer = load_clip("default")
    print(f"{renderer.network.name} ({renderer.G.img_resolution} px) scored by {scorer.name} "
          f"(input {scorer.input_size} px); preview at {args.preview} px, best {args.rescore} re-scored")
    all_rho, all_same = [], 0
    seconds = {"full": 0.0, "preview": 0.0}
    for prompt, klass in PROMPTS:
        rhos, same = [], 0
        for run in range(args.runs):
            config = EvolveConfig(population=args.population, seed=run, preview_resolution=args.preview,
                                  rescore=args.rescore)
            evo = new_evolution(renderer, scorer, prompt, None, config, RenderSettings(class_index=klass))
            if evo.preview_resolution is None:
                print(f"{renderer.network.name} has no early exit at {args.preview} px below its score resolution")
                return 1
            seeds = evo._initial_seeds()
            ws = renderer.ws_from_seeds(seeds, evo.settings)
            scores = {}
            for name, res in (("full", evo.score_resolution), ("preview", evo.preview_resolution)):
                start = time.perf_counter()
                with torch.inference_mode():
                    scores[name] = np.concatenate([
                        evo.fitness(evo._synthesize(ws[i:i + 25], res)).total for i in range(0, len(ws), 25)])
                seconds[name] += time.perf_counter() - start
            rhos.append(spearman(scores["full"], scores["preview"]))
            full_parents = set(np.argsort(-scores["full"])[:4])
            shortlist = np.argsort(-scores["preview"])[:args.rescore]
            chosen = set(shortlist[np.argsort(-scores["full"][shortlist])[:4]])
            same += chosen == full_parents
        all_rho += rhos
        all_same += same
        print(f"{prompt!r:48} Spearman {statistics.mean(rhos):.3f} (min {min(rhos):.3f}), "
              f"same 4 parents in {same} of {args.runs} runs")
    runs = args.runs * len(PROMPTS)
    print(f"overall: Spearman {statistics.mean(all_rho):.3f} (min {min(all_rho):.3f}), same parents in {all_same} of "
          f"{runs} runs; rendering and scoring the 200: full {seconds['full'] / runs:.2f} s, "
          f"preview {seconds['preview'] / runs:.2f} s")
    ok = statistics.mean(all_rho) >= 0.9 and all_same >= 0.9 * runs
    print("the preview meets the bar" if ok else "the preview does NOT meet the bar: it stays off by default")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
