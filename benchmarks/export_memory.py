"""Peak memory and time of a huge export against the 2 GB target (issue: "a 12000 px export
stays under 2 GB peak memory").

Each case runs ``studio.imaging.postprocess.apply()`` in its own child process (so its peak RSS,
``resource.getrusage(...).ru_maxrss``, is its own) on a 1024x1024 RGB image, to a 12000 px long
side at 1.27:1 (12000 x 9449), with GANscapes levels (0.1 / 99.9) and sharpening on, for 8-bit
and 16-bit output. The baseline is the RSS after the imports, before the image exists.

    python benchmarks/export_memory.py [--long-side 12000] [--depths 8,16] [--sharpen 0.5]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

TARGET_BYTES = 2 * 1024 ** 3
ROOT = Path(__file__).resolve().parents[1]


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024   # macOS reports bytes, Linux KiB


def _current_rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def _source_image(size: int = 1024):
    """A smooth, painting-like uint8 RGB test image (deterministic)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    small = rng.integers(30, 220, (size // 16, size // 16, 3), dtype=np.uint8)
    image = np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC))
    noise = rng.integers(-6, 7, image.shape)
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def run_child(depth: int, long_side: int, sharpen: float) -> dict:
    sys.path.insert(0, str(ROOT))
    from studio.imaging.postprocess import PostProcess, apply

    if depth == 16:   # 16-bit sharpening uses PyTorch: count its import in the baseline, not the export
        importlib.import_module("torch")

    baseline = _current_rss_bytes()
    image = _source_image()
    settings = PostProcess(levels=(0.1, 99.9), aspect=1.27, long_side=long_side, sharpen=sharpen, bit_depth=depth)
    start = time.perf_counter()
    result = apply(image, settings)
    seconds = time.perf_counter() - start
    h, w = result.image.shape[:2]

    # ---- file writing goes here -----------------------------------------------------------
    # When studio/imaging/export.py exists, time writing result.image (PNG / TIFF / JPEG) here
    # and add its seconds and the peak RSS after it to the report. Left out on purpose: this
    # benchmark measures post-processing alone for now.
    write_seconds = None
    # ---------------------------------------------------------------------------------------

    return {"depth": depth, "width": w, "height": h, "dtype": str(result.image.dtype),
            "output_bytes": int(result.image.nbytes), "seconds": seconds, "write_seconds": write_seconds,
            "baseline_rss": baseline, "peak_rss": _peak_rss_bytes(), "upscaler": result.upscaler}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long-side", type=int, default=12000)
    parser.add_argument("--depths", default="8,16")
    parser.add_argument("--sharpen", type=float, default=0.5)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.long_side, args.sharpen)))
        return 0

    mib = 1024 ** 2
    print(f"export memory: 1024x1024 RGB -> {args.long_side} px long side, 1.27:1, levels 0.1/99.9, "
          f"sharpen {args.sharpen:g}; target peak RSS < {TARGET_BYTES / mib:.0f} MiB")
    header = f"{'depth':>5} {'output':>12} {'array MiB':>9} {'baseline':>9} {'peak RSS':>9} {'time s':>7}  target"
    print(header)
    print("-" * len(header))
    ok = True
    for depth in (int(d) for d in args.depths.split(",")):
        cmd = [sys.executable, __file__, "--child", str(depth), "--long-side", str(args.long_side),
               "--sharpen", str(args.sharpen)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr)
            return 1
        d = json.loads(proc.stdout.strip().splitlines()[-1])
        met = d["peak_rss"] < TARGET_BYTES
        ok &= met
        base = f"{d['baseline_rss'] / mib:.0f}" if d["baseline_rss"] else "?"
        print(f"{depth:>5} {d['width']:>6}x{d['height']:<5} {d['output_bytes'] / mib:>9.0f} {base:>9} "
              f"{d['peak_rss'] / mib:>9.0f} {d['seconds']:>7.2f}  {'met' if met else 'MISSED'}  ({d['upscaler']}, {d['dtype']})")
    print("target met" if ok else "target MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
