"""Which way of rendering is fastest on this machine: PyTorch (the studio's inference path), ONNX
Runtime (the exported graph), ``torch.compile`` of the synthesis network (``--compile``; minutes to
compile), and per 3x3 layer shape NNPACK's Winograd convolution against PyTorch's (oneDNN's)
direct one. ``studio.gan.onnx_backend.auto_choice`` (what ``--backend auto`` picks) follows what
this prints for each kind of machine.

Random-weight paper256 (256 px, channel base 16384), or with ``--network stylegan3-t`` a 256 px
StyleGAN3-T in the paper's configuration (channel base 32768); float32, const noise, the same ws
for every backend, timed turn about; images are compared (max difference in levels of 255).

    python benchmarks/backends.py [--network paper256|stylegan3-t] [--repeats 5] [--batches 1,8] [--compile]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def median_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def levels(a, b) -> int:
    import torch

    def q(x):
        return (x * 127.5 + 128).clamp(0, 255).to(torch.uint8).int()

    return int((q(a) - q(b)).abs().max())


def conv_shapes(repeats: int) -> None:
    """NNPACK's Winograd against the direct convolution, per 3x3 layer shape of paper256 at batch 1."""
    import torch
    import torch.nn.functional as F

    if not torch.backends.nnpack.is_available():
        print("NNPACK: not available in this PyTorch")
        return
    print("3x3 convolutions, batch 1: direct (oneDNN, channels-last) vs NNPACK Winograd")
    with torch.inference_mode():
        for res, channels in ((256, 64), (128, 128), (64, 256), (32, 512), (16, 512), (8, 512)):
            x = torch.randn(1, channels, res, res)
            w = torch.randn(channels, channels, 3, 3) * 0.05
            b = torch.zeros(channels)
            xl = x.contiguous(memory_format=torch.channels_last)
            direct = median_time(lambda: F.conv2d(xl, w, b, padding=1), repeats)
            try:
                nnpack = median_time(lambda: torch._nnpack_spatial_convolution(x, w, b, padding=[1, 1]), repeats)
            except RuntimeError as exc:
                print(f"  {res:>4} px x {channels:>3} ch: direct {direct * 1e3:6.2f} ms, NNPACK failed ({exc})")
                continue
            print(f"  {res:>4} px x {channels:>3} ch: direct {direct * 1e3:6.2f} ms, NNPACK {nnpack * 1e3:6.2f} ms "
                  f"({direct / nnpack:.2f}x)")


def main() -> int:
    import torch

    from generate_cpu import build
    from studio.core.runtime import tune_allocator
    from studio.gan.onnx_backend import onnxruntime_available

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batches", default="1,8")
    p.add_argument("--compile", action="store_true", help="also torch.compile the synthesis network")
    p.add_argument("--network", choices=("paper256", "stylegan3-t"), default="paper256")
    args = p.parse_args()
    tune_allocator()
    if args.network == "stylegan3-t":
        from stylegan3_cpu import SPEED_CONFIG, build_pair

        G, _ = build_pair(SPEED_CONFIG, None)
    else:
        G, _ = build("paper256")
    ways = {"PyTorch": lambda ws: G.synthesis(ws, noise_mode="const")}
    if onnxruntime_available():
        from stylegan3_cpu import onnx_session

        ort = onnx_session(G)
        ways[f"ONNX Runtime ({ort.provider})"] = ort
    if args.compile:
        compiled = torch.compile(G.synthesis, dynamic=False)
        ways["torch.compile"] = lambda ws: compiled(ws, noise_mode="const")
    print(f"{args.network}, float32, {torch.get_num_threads()} threads, median of {args.repeats}")
    with torch.inference_mode():
        for batch in (int(b) for b in args.batches.split(",")):
            ws = G.mapping(torch.randn(batch, 512, generator=torch.Generator().manual_seed(1)), None)
            expected = ways["PyTorch"](ws)
            start = time.perf_counter()
            for name, fn in ways.items():         # warm-up (and compilation)
                agreement = levels(fn(ws), expected)
                if name == "torch.compile":
                    print(f"  torch.compile: compiled in {time.perf_counter() - start:.0f} s")
                print(f"  batch {batch}: {name} agrees within {agreement}/255")
            times = {name: [] for name in ways}
            for _ in range(args.repeats):
                for name, fn in ways.items():
                    t = time.perf_counter()
                    fn(ws)
                    times[name].append((time.perf_counter() - t) / batch)
            base = statistics.median(times["PyTorch"])
            for name in ways:
                mine = statistics.median(times[name])
                print(f"  batch {batch}: {name:<36} {mine:.3f} s/image  ({base / mine:.2f}x PyTorch)")
    if args.network == "paper256":
        conv_shapes(args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
