"""Training speed on the CPU for the default-model configuration (procedural abstract art).

Builds a procedural dataset at 64 and 128 px, runs the studio's trainer (the 'default-abstract'
preset, ADA on, batch 16 as it trains) for a number of steps after a warm-up, and prints images/s and the
achieved GFLOP/s of a training step (forward and backward of G and D, counted by torch's
FlopCounterMode on one step, so lazy regularisation steps are included only on average).

    python benchmarks/train_cpu.py [--steps 12] [--resolutions 64,128] [--preset default-abstract]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def measure(resolution: int, steps: int, preset: str, batch: int) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from studio.core.runtime import tune_allocator
    from studio.data.procedural import write_dataset
    from studio.training.options import TrainingOptions
    from studio.training.trainer import Trainer

    tune_allocator()
    work = Path(tempfile.mkdtemp(prefix="studio-train-bench-"))
    data = write_dataset(work / "data", 200, resolution)
    options = TrainingOptions(data=str(data), run_dir=str(work / "run"), kimg=1000, batch=batch, preset=preset,
                              aug="ada", mirror=True, workers=0, metrics=False)
    trainer = Trainer(options)
    trainer.setup()
    for _ in range(3):  # warm-up (allocations, the first R1 step)
        trainer.step()
    with FlopCounterMode(display=False) as counter:
        trainer.step()
    flops_per_step = counter.get_total_flops()
    start = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    elapsed = time.perf_counter() - start
    g = sum(p.numel() for p in trainer.G.parameters())
    d = sum(p.numel() for p in trainer.D.parameters())
    return {"resolution": resolution, "images_per_s": steps * batch / elapsed, "s_per_step": elapsed / steps,
            "gflop_per_step": flops_per_step / 1e9, "gflops": flops_per_step * steps / elapsed / 1e9,
            "G_params": g, "D_params": d, "threads": torch.get_num_threads()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--resolutions", default="64,128")
    parser.add_argument("--preset", default="default-abstract")
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    print(f"Training speed, preset {args.preset}, batch {args.batch}, ADA on, {args.steps} timed steps")
    print(f"{'res':>5} {'img/s':>7} {'s/step':>7} {'GFLOP/step':>11} {'GFLOP/s':>8}  G / D params")
    for res in (int(r) for r in args.resolutions.split(",")):
        r = measure(res, args.steps, args.preset, args.batch)
        print(f"{res:>5} {r['images_per_s']:>7.2f} {r['s_per_step']:>7.2f} {r['gflop_per_step']:>11.1f} "
              f"{r['gflops']:>8.1f}  {r['G_params'] / 1e6:.2f} M / {r['D_params'] / 1e6:.2f} M  ({r['threads']} threads)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
