"""Seams of seamless tiles: the mean |difference| across the wrap-around edges of a tile against the
mean difference between neighbouring pixels inside it, over many seeds (tiled and not).

    python benchmarks/tile_seams.py [--network default] [--seeds 50] [--class K]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def seam(image):
    import numpy as np

    x = image.astype(np.float64)
    inner = (np.abs(np.diff(x, axis=1)).mean() + np.abs(np.diff(x, axis=0)).mean()) / 2
    wrap = (np.abs(x[:, 0] - x[:, -1]).mean() + np.abs(x[0] - x[-1]).mean()) / 2
    return wrap, inner


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--network", default="default")
    p.add_argument("--seeds", type=int, default=50)
    p.add_argument("--class", dest="class_index", type=int, default=None)
    args = p.parse_args()
    from studio.gan.formats import load_network
    from studio.gan.render import Renderer
    from studio.gan.render_settings import RenderSettings

    renderer = Renderer(load_network(args.network), device="cpu")
    G = renderer.G
    for tile in (False, True):
        rows = []
        for seed in range(args.seeds):
            klass = args.class_index if args.class_index is not None else (seed % G.c_dim if G.c_dim else None)
            (_, image), = renderer.render_seeds([seed], RenderSettings(class_index=klass, tile=tile))
            rows.append(seam(image))
        wrap, inner = statistics.mean(r[0] for r in rows), statistics.mean(r[1] for r in rows)
        worst = max(r[0] / r[1] for r in rows)
        print(f"{'tiled' if tile else 'plain'}: wrap-around {wrap:.2f}, neighbours {inner:.2f} -> ratio {wrap / inner:.3f} "
              f"(worst image {worst:.2f}), {args.seeds} seeds of {renderer.network.name}")


if __name__ == "__main__":
    main()
