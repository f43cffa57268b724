"""Rendering on a GPU: images per second at 256 and 1024 px, batch 1 and 32, float32 and float16
(NVIDIA's setting: the four highest-resolution blocks), against the card's peak; and the CUDA
path's checks (float16 within a few levels of float32, ONNX Runtime's CUDA provider if installed,
CLIP in float16).

Random-weight generators of NVIDIA's paper256 and config-f layouts (nothing is downloaded). Run it
on a machine with a CUDA GPU (the device tool lends one to some sessions):

    python benchmarks/gpu.py [--repeats 10] [--json OUT.json] [--peak-tflops 67]

``--peak-tflops`` is the card's dense float32 peak (an H100 SXM: 67; float16 tensor cores are
~15x that); the achieved fraction is printed. Exits 2 without a GPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

CONFIGS = {"paper256": dict(img_resolution=256, channel_base=16384, channel_max=512),
           "config-f": dict(img_resolution=1024, channel_base=32768, channel_max=512)}


def timed(fn, repeats: int) -> float:
    import torch

    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    import numpy as np
    import torch

    from generate_cpu import synthesis_gflop
    from studio.gan.formats import LoadedNetwork
    from studio.gan.networks import GeneratorConfig, make_generator
    from studio.gan.render import Renderer
    from studio.gan.render_settings import RenderSettings

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--peak-tflops", type=float, default=None)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA GPU here: run this where the device tool lends one")
        return 2
    name = torch.cuda.get_device_name(0)
    print(f"{name}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    rows = []
    for config_name, config in CONFIGS.items():
        torch.manual_seed(0)
        G = make_generator(GeneratorConfig(z_dim=512, w_dim=512, mapping_layers=8, conv_clamp=256, **config))
        gflop = synthesis_gflop(G)
        net = LoadedNetwork(G.eval(), None, "native", Path(f"{config_name}.safetensors"), config_name)
        for precision in ("fp32", "fp16"):
            renderer = Renderer(net, device="cuda", precision=precision, batch_size=32)
            for batch in (1, 32):
                ws = renderer.ws_from_seeds(list(range(batch)), RenderSettings())
                seconds = timed(lambda: renderer.synthesize(ws, RenderSettings()), args.repeats)
                row = {"config": config_name, "precision": precision, "batch": batch,
                       "images_per_s": batch / seconds, "tflops": gflop * batch / seconds / 1e3}
                rows.append(row)
                peak = f", {row['tflops'] / args.peak_tflops:.0%} of peak" if args.peak_tflops else ""
                print(f"{config_name:<9} {precision} batch {batch:>2}: {row['images_per_s']:8.1f} img/s, "
                      f"{row['tflops']:6.1f} TFLOP/s{peak}")
        full = Renderer(net, device="cuda", precision="fp32")
        half = Renderer(net, device="cuda", precision="fp16")
        a = dict(full.render_seeds(range(8), RenderSettings()))
        b = dict(half.render_seeds(range(8), RenderSettings()))
        diff = max(int(np.abs(a[s].astype(int) - b[s].astype(int)).max()) for s in a)
        print(f"{config_name:<9} float16 vs float32: within {diff}/255 (8 seeds)")
        try:
            onnx = Renderer(net, device="cuda", backend="onnx")
            ws = onnx.ws_from_seeds(list(range(32)), RenderSettings())
            seconds = timed(lambda: onnx.synthesize(ws, RenderSettings()), args.repeats)
            print(f"{config_name:<9} {onnx.backend} batch 32: {32 / seconds:8.1f} img/s")
        except Exception as exc:  # noqa: BLE001 - onnxruntime-gpu may be missing
            print(f"{config_name:<9} ONNX Runtime: not measured ({exc})")
    try:
        from studio.clip.model import load_clip

        scorer = load_clip("default", device="cuda")
        images = torch.rand(64, 3, 224, 224, device="cuda") * 2 - 1
        seconds = timed(lambda: scorer.encode_images(images), args.repeats)
        cpu = load_clip("default", device="cpu").encode_images(images.cpu())
        agree = float((scorer.encode_images(images) * cpu).sum(dim=1).min())
        print(f"default CLIP on the GPU (float16 autocast): {64 / seconds:.0f} images/s encoded; features' cosine "
              f"with the CPU's float32 at least {agree:.4f}")
    except Exception as exc:  # noqa: BLE001
        print(f"CLIP: not measured ({exc})")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": name, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
