"""Rendering speed on the CPU, side by side with NVIDIA's reference implementation.

Random-weight generators in the two configurations the reference is measured with:
* paper256: 256 px, channel_base 16384, channel_max 512, 8 mapping layers (24.8 M params)
* config-f: 1024 px, channel_base 32768, channel_max 512, 8 mapping layers (30.4 M params;
  the architecture of the MachineRay 2 and GANscapes models)
both with conv_clamp 256 and const noise, rendered from z at batch 1 and 8 under inference mode.

With ``--reference PATH`` (a checkout of NVlabs/stylegan3, never part of this project) NVIDIA's
``networks_stylegan2.Generator`` is built in the same process, its weights read into the studio's
network, the two images compared, and the two timed turn about (interleaved, so that they share
the machine's noise); the speed-up is the ratio of the medians, against NVIDIA in float32
throughout (``force_fp32``, the fair comparison and the target's) and, on a second line, as its
``gen_images.py`` runs on a CPU (float16 in the four highest-resolution blocks, which a CPU
computes slowly). Without it, the reference figures
stored below stand in, and the table says so. Each configuration runs in its own process, so its
peak memory (max RSS) is its own.

    python benchmarks/generate_cpu.py [--reference PATH] [--repeats 5] [--only paper256|config-f] [--batches 1,8]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

CONFIGS = {
    "paper256": dict(img_resolution=256, channel_base=16384, channel_max=512),
    "config-f": dict(img_resolution=1024, channel_base=32768, channel_max=512),
}
# NVIDIA's seconds per image measured on this machine with --reference (2 cores, torch 2.13 CPU,
# float32, const noise), printed when no --reference is given
STORED = {("paper256", 1): 0.159, ("paper256", 8): 0.394, "measured_on": "2-core VM, 2026-12-06"}
TARGETS = {1: 2.0, 8: 3.0}


def build(name: str, reference: str | None = None):
    """(studio G, NVIDIA G or None), with the same weights when the reference is given."""
    from reference import stylegan2_pair

    config = dict(z_dim=512, w_dim=512, mapping_layers=8, conv_clamp=256, **CONFIGS[name])
    return stylegan2_pair(config, reference)


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


def run_one(name: str, batches: list[int], repeats: int, reference: str | None) -> dict:
    import torch

    from studio.core.runtime import tune_allocator
    from studio.gan.render import to_uint8

    tune_allocator()  # as the CLI and the studio's inference thread do

    G, ref = build(name, reference)
    params = sum(p.numel() for p in G.parameters())
    gflop = synthesis_gflop(G)
    rows = []
    agreement = None
    for batch in batches:
        z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(1))
        runs = {"studio": lambda: to_uint8(G(z, None, noise_mode="const"))}
        if ref is not None:   # float32 throughout, and as gen_images.py runs it (float16 in the top 4 blocks)
            runs["reference"] = lambda: to_uint8(ref(z, None, noise_mode="const", force_fp32=True))
            runs["reference_tool"] = lambda: to_uint8(ref(z, None, noise_mode="const"))
        with torch.inference_mode():
            outputs = {side: run() for side, run in runs.items()}          # warm-up
            if ref is not None:
                agreement = int(abs(outputs["studio"].astype(int) - outputs["reference"].astype(int)).max())
            times = {side: [] for side in runs}
            for _ in range(repeats):                                      # turn about
                for side, run in runs.items():
                    start = time.perf_counter()
                    run()
                    times[side].append((time.perf_counter() - start) / batch)
        row = {"batch": batch, "s_per_image": statistics.median(times["studio"]), "all_times": times["studio"]}
        row["images_per_s"] = 1 / row["s_per_image"]
        row["gflops"] = gflop / row["s_per_image"]
        if ref is not None:
            row["reference_s_per_image"] = statistics.median(times["reference"])
            row["reference_tool_s_per_image"] = statistics.median(times["reference_tool"])
        rows.append(row)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"config": name, "params": params, "gflop_per_image": gflop, "rows": rows, "agreement": agreement,
            "peak_rss_mib": peak_mib, "threads": torch.get_num_threads(), "torch": torch.__version__}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=sorted(CONFIGS))
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--reference", default=None, metavar="PATH", help="a checkout of NVlabs/stylegan3")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    if args.child:
        print(json.dumps(run_one(args.child, batches, args.repeats, args.reference)))
        return 0

    names = [args.only] if args.only else list(CONFIGS)
    source = "measured side by side, interleaved" if args.reference else \
        f"NO --reference: stored figures ({STORED['measured_on']})"
    print(f"CPU rendering benchmark ({os.cpu_count()} logical CPUs), median of {args.repeats}, float32, const noise")
    print(f"NVIDIA reference: {source}")
    header = f"{'config':<9} {'batch':>5} {'s/img':>8} {'img/s':>7} {'GFLOP/s':>8} {'NVIDIA':>8} {'speed-up':>8}  target"
    print(header + "   memory")
    print("-" * len(header))
    ok = True
    for name in names:
        for batch in batches:
            cmd = [sys.executable, __file__, "--child", name, "--repeats", str(args.repeats), "--batches", str(batch)]
            if args.reference:
                cmd += ["--reference", args.reference]
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode != 0:
                print(result.stderr)
                return 1
            data = json.loads(result.stdout.strip().splitlines()[-1])
            row = data["rows"][0]
            ref = row.get("reference_s_per_image", STORED.get((name, batch)))
            target = TARGETS.get(batch, 2.0)
            if ref:
                speedup = ref / row["s_per_image"]
                met = "met" if speedup >= target else "MISSED"
                ok &= speedup >= target
                versus = f"{ref:>8.3f} {speedup:>7.2f}x  >= {target:.0f}x {met}"
            else:
                versus = f"{'-':>8} {'-':>8}  (no reference figure)"
            print(f"{name:<9} {batch:>5} {row['s_per_image']:>8.3f} {row['images_per_s']:>7.2f} "
                  f"{row['gflops']:>8.1f} {versus}   peak RSS {data['peak_rss_mib']:.0f} MiB")
            tool = row.get("reference_tool_s_per_image")
            if tool:
                print(f"{'':<9} {'':>5} NVIDIA as gen_images.py runs it on a CPU (float16 in the top 4 blocks): "
                      f"{tool:.3f} s/img, speed-up {tool / row['s_per_image']:.2f}x")
        agreement = f", studio vs NVIDIA within {data['agreement']}/255" if data["agreement"] is not None else ""
        print(f"{'':<9} {data['params'] / 1e6:.1f} M params, {data['gflop_per_image']:.0f} GFLOP/image, "
              f"{data['threads']} torch threads{agreement}")
    print("all targets met" if ok else "some targets missed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
