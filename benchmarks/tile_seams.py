"""Seams of seamless tiles: the mean |difference| across the wrap-around edges of a tile against the
mean difference between neighbouring pixels inside it, over many seeds (tiled and not).

    python benchmarks/tile_seams.py [--network default] [--seeds 50] [--class K]
    python benchmarks/tile_seams.py --random-nvidia 256     # NVIDIA's ADA 'paper256' layout, random weights

No trained 256 px NVIDIA network can be downloaded here; --random-nvidia builds one of that layout
(skip generator, 8 mapping layers, channel base 16384, conv clamp 256) with random weights, which
checks every layer's wrap-around at that size but not how a trained network's pictures look.
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


def random_nvidia(resolution: int):
    import torch

    from studio.gan.formats import LoadedNetwork
    from studio.gan.networks import GeneratorConfig, make_generator

    torch.manual_seed(0)
    G = make_generator(GeneratorConfig(z_dim=512, w_dim=512, img_resolution=resolution, mapping_layers=8,
                                       channel_base=16384, channel_max=512, conv_clamp=256))
    with torch.no_grad():                       # noise as trained networks have it (stored, visible)
        for block in G.synthesis.blocks():
            for name in ("conv0", "conv1"):
                if hasattr(block, name):
                    getattr(block, name).noise_strength.fill_(0.1)
    return LoadedNetwork(G.eval(), None, "native", Path(f"random-paper{resolution}"), "0" * 64)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--network", default="default")
    p.add_argument("--seeds", type=int, default=50)
    p.add_argument("--class", dest="class_index", type=int, default=None)
    p.add_argument("--random-nvidia", type=int, default=None, metavar="RES",
                   help="measure a randomly initialised network of NVIDIA's paper256 layout at RES px instead")
    args = p.parse_args()
    from studio.gan.formats import load_network
    from studio.gan.render import Renderer
    from studio.gan.render_settings import RenderSettings

    network = random_nvidia(args.random_nvidia) if args.random_nvidia else load_network(args.network)
    renderer = Renderer(network, device="cpu")
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
