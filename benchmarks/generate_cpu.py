"""Rendering speed on the CPU against the measured reference figures (FORMATS.md).

Random-weight generators in the two configurations the reference was measured with:
* paper256: 256 px, channel_base 16384, channel_max 512, 8 mapping layers (24.8 M params)
* config-f: 1024 px, channel_base 32768, channel_max 512, 8 mapping layers (30.4 M params;
  the architecture of the MachineRay 2 and GANscapes models)
both with conv_clamp 256 and const noise, rendered at batch 1 and 8 under inference mode.

Prints s/image, images/s, achieved GFLOP/s and the speed-up over the reference (reference
batch-4 figures stand in for batch 8, the closest measured). Each configuration runs in its own
process so its peak memory (max RSS) is its own.

    python benchmarks/generate_cpu.py [--repeats 3] [--only paper256|config-f] [--batches 1,8]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

CONFIGS = {
    "paper256": dict(img_resolution=256, channel_base=16384, channel_max=512),
    "config-f": dict(img_resolution=1024, channel_base=32768, channel_max=512),
}
# seconds per image on the reference machine (2 cores, float32, const noise): FORMATS.md
REFERENCE = {("paper256", 1): 0.24, ("paper256", 8): 0.53, ("config-f", 1): 2.4, ("config-f", 8): 3.2}
TARGET_SPEEDUP = 2.0


def build(name: str):
    import torch

    from studio.gan.networks import GeneratorConfig, make_generator

    torch.manual_seed(0)
    cfg = GeneratorConfig(z_dim=512, w_dim=512, mapping_layers=8, conv_clamp=256, **CONFIGS[name])
    G = make_generator(cfg).eval().requires_grad_(False)
    with torch.no_grad():  # a plausible w_avg so truncation exercises real numbers
        G.mapping.w_avg.copy_(G.mapping(torch.randn(256, 512), None)[:, 0].mean(0))
    return G


def synthesis_gflop(G) -> float:
    """Convolution GFLOP per image, counting each upsampling 3x3 conv as a dense 3x3 conv at
    its output resolution (the convention behind FORMATS.md's '280 GFLOP' for config-f)."""
    total = 0
    for block in G.synthesis.blocks():
        res = block.resolution
        for name in ("conv0", "conv1"):
            layer = getattr(block, name, None)
            if layer is not None:
                total += 2 * layer.in_channels * layer.out_channels * 9 * res * res
        torgb = getattr(block, "torgb", None)
        if torgb is not None:
            total += 2 * torgb.weight.shape[0] * torgb.weight.shape[1] * res * res
    return total / 1e9


def run_one(name: str, batches: list[int], repeats: int) -> dict:
    import torch

    from studio.core.runtime import tune_allocator
    from studio.gan.render import to_uint8

    tune_allocator()  # as the CLI and the studio's inference thread do

    G = build(name)
    params = sum(p.numel() for p in G.parameters())
    gflop = synthesis_gflop(G)
    rows = []
    for batch in batches:
        z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(1))
        with torch.inference_mode():
            to_uint8(G(z, None, noise_mode="const"))  # warm-up
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                to_uint8(G(z, None, noise_mode="const"))
                times.append(time.perf_counter() - start)
        per_image = min(times) / batch
        rows.append({"batch": batch, "s_per_image": per_image, "images_per_s": 1 / per_image,
                     "gflops": gflop / per_image, "all_times": times})
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"config": name, "params": params, "gflop_per_image": gflop, "rows": rows,
            "peak_rss_mib": peak_mib, "threads": torch.get_num_threads(), "torch": torch.__version__}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=sorted(CONFIGS))
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    if args.child:
        print(json.dumps(run_one(args.child, batches, args.repeats)))
        return 0

    names = [args.only] if args.only else list(CONFIGS)
    print(f"CPU rendering benchmark ({os.cpu_count()} logical CPUs), best of {args.repeats}, float32, const noise")
    header = f"{'config':<9} {'batch':>5} {'s/img':>8} {'img/s':>7} {'GFLOP/s':>8} {'ref s/img':>9} {'speed-up':>8}  target"
    print(header + "   memory")
    print("-" * len(header))
    ok = True
    for name in names:
        for batch in batches:
            cmd = [sys.executable, __file__, "--child", name, "--repeats", str(args.repeats), "--batches", str(batch)]
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode != 0:
                print(result.stderr)
                return 1
            data = json.loads(result.stdout.strip().splitlines()[-1])
            row = data["rows"][0]
            ref = REFERENCE.get((name, batch))
            speedup = ref / row["s_per_image"] if ref else float("nan")
            met = "met" if speedup >= TARGET_SPEEDUP else "MISSED"
            ok &= speedup >= TARGET_SPEEDUP
            print(f"{name:<9} {batch:>5} {row['s_per_image']:>8.3f} {row['images_per_s']:>7.2f} "
                  f"{row['gflops']:>8.1f} {ref:>9.2f} {speedup:>7.2f}x  >= {TARGET_SPEEDUP:.0f}x {met}"
                  f"   peak RSS {data['peak_rss_mib']:.0f} MiB")
        print(f"{'':<9} {data['params'] / 1e6:.1f} M params, {data['gflop_per_image']:.0f} GFLOP/image, "
              f"{data['threads']} torch threads")
    print("all targets met" if ok else "some targets missed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
