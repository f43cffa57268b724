"""StyleGAN3 on the CPU: speed against NVIDIA's code side by side, and peak memory at 1024 px.

Speed: a 256 px StyleGAN3-T in the paper's configuration (channel_base 32768, channel_max 512,
z/w 512, 2 mapping layers; random weights, seed 0) rendered by the studio and by NVIDIA's
``networks_stylegan3.py`` (its reference, non-CUDA path: what ``gen_images.py --device cpu``
runs) from the same state dict, in one process, interleaved so that both share the machine's
noise. The two images are compared first (max abs difference). Without ``--reference`` the
figures measured once on this machine are printed instead, and said to be.

Memory: a 1024 px -T and -R (paper configurations; -R with twice the channels) each render
one image in a fresh process; the peak resident memory (max RSS) and its growth over the
process after building the network are printed, for the studio and, with ``--reference``,
for NVIDIA's code.

    python benchmarks/stylegan3_cpu.py [--reference PATH] [--onnx] [--repeats 3] [--batch8-repeats 1]
                                       [--skip-speed] [--skip-memory] [--threads 2]

``--onnx`` adds a third side: the same network exported to ONNX (its graph keeps the images
apart and filters channel by channel, unchunked) and run by ONNX Runtime's CPU provider, which
``--backend auto`` weighs against PyTorch for StyleGAN3.

``--reference`` is a checkout of github.com/NVlabs/stylegan3 (never part of this project); it
needs scipy importable (e.g. ``pip install --target /tmp/ref-site scipy`` and
``PYTHONPATH=/tmp/ref-site``); its ``pkg_resources`` import is satisfied by a stand-in here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from reference import reference_module  # noqa: E402

SPEED_CONFIG = dict(z_dim=512, w_dim=512, img_resolution=256, channel_base=32768, channel_max=512)
MEMORY_CONFIGS = {
    "stylegan3-t 1024": dict(z_dim=512, w_dim=512, img_resolution=1024, channel_base=32768, channel_max=512),
    "stylegan3-r 1024": dict(z_dim=512, w_dim=512, img_resolution=1024, channel_base=65536, channel_max=1024,
                             conv_kernel=1, use_radial_filters=True),
}
# seconds per image measured on this machine (2 cores, torch 2.13 CPU, float32) on 2026-12-06,
# printed when no --reference is given
STORED = {"reference": {1: 10.6, 8: 15.2}, "measured_on": "2-core AVX2 VM, 2026-12-06"}
MEMORY_LIMIT_GB = 2.0


def build_pair(config: dict, reference: str | None):
    """(studio G, reference G or None) with the same weights."""
    import torch

    from studio.gan.networks.stylegan3 import Stylegan3Config, Stylegan3Generator

    torch.manual_seed(0)
    ours = Stylegan3Generator(Stylegan3Config(**config)).eval().requires_grad_(False)
    ref = None
    if reference:
        nv = reference_module(reference, "networks_stylegan3")
        kwargs = {k: v for k, v in config.items() if k not in ("z_dim", "w_dim", "img_resolution")}
        ref = nv.Generator(z_dim=config["z_dim"], c_dim=0, w_dim=config["w_dim"], img_resolution=config["img_resolution"],
                           img_channels=3, mapping_kwargs=dict(num_layers=2), **kwargs).eval().requires_grad_(False)
        ref.load_state_dict(ours.state_dict())
    return ours, ref


def speed(args) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    ours, ref = build_pair(SPEED_CONFIG, args.reference)
    ort = onnx_session(ours, args.threads) if args.onnx else None
    z = torch.from_numpy(np.random.RandomState(0).randn(8, 512).astype(np.float32))
    with torch.inference_mode():
        ws = ours.mapping(z, None, truncation_psi=0.7)
        print(f"StyleGAN3-T 256 px, {sum(p.numel() for p in ours.parameters()) / 1e6:.1f} M parameters, "
              f"{args.threads} threads, float32")

        def run_ours(n):
            return ours.synthesis(ws[:n])

        def run_ref(n):
            return ref.synthesis(ws[:n], noise_mode="const", force_fp32=True)

        if ref is not None:
            a, b = run_ours(1), run_ref(1)
            levels = ((a * 127.5 + 128).clamp(0, 255).to(torch.uint8).int() -
                      (b * 127.5 + 128).clamp(0, 255).to(torch.uint8).int()).abs().max()
            print(f"agreement: max |studio - NVIDIA| = {float((a - b).abs().max()):.2e} ({int(levels)} of 255 levels)")
        if ort is not None:
            print(f"agreement: max |studio - ONNX Runtime| = {float((run_ours(1) - ort(ws[:1])).abs().max()):.2e}")
        for batch, repeats in ((1, args.repeats), (8, args.batch8_repeats)):
            times = {"studio": [], "reference": [], "onnx": []}
            run_ours(batch)                                     # warm-up
            if ort is not None:
                ort(ws[:batch])
            for _ in range(repeats):                            # interleaved
                for name, fn in (("studio", run_ours), ("reference", run_ref if ref is not None else None),
                                 ("onnx", (lambda n: ort(ws[:n])) if ort is not None else None)):
                    if fn is None:
                        continue
                    start = time.perf_counter()
                    fn(batch)
                    times[name].append((time.perf_counter() - start) / batch)
            mine = statistics.median(times["studio"])
            if times["reference"]:
                theirs, source = statistics.median(times["reference"]), "measured side by side"
            else:
                theirs, source = STORED["reference"].get(batch), f"stored figure ({STORED['measured_on']})"
            line = f"batch {batch}: studio {mine:.2f} s/image"
            if theirs:
                line += f", NVIDIA {theirs:.2f} s/image ({source}), speed-up {theirs / mine:.2f}x"
            if times["onnx"]:
                onnx = statistics.median(times["onnx"])
                line += f"; ONNX Runtime {onnx:.2f} s/image ({mine / onnx:.2f}x the studio's PyTorch)"
            print(line)


def onnx_session(G, threads: int | None = None):
    """``G``'s synthesis exported to ONNX (into a temporary folder) in an ONNX Runtime session."""
    import tempfile

    from studio.gan.formats.onnx_export import export_onnx
    from studio.gan.onnx_backend import OnnxSynthesis

    path, _ = export_onnx(G, Path(tempfile.mkdtemp(prefix="studio-bench-")) / "synthesis.onnx", mapping=False)
    return OnnxSynthesis(path, threads=threads)


def _status_bytes(field: str) -> int:
    """VmRSS / VmHWM of this process from /proc (Linux), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_child(name: str, side: str, reference: str | None, threads: int) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    ours, ref = build_pair(MEMORY_CONFIGS[name], reference if side == "reference" else None)
    G = ref if side == "reference" else ours
    start = time.perf_counter()
    ort = onnx_session(ours, threads) if side == "onnx" else None
    export = {"export_seconds": time.perf_counter() - start, "export_peak": _status_bytes("VmHWM")} if ort else {}
    if side == "reference":
        del ours
    z = torch.from_numpy(np.random.RandomState(0).randn(1, 512).astype(np.float32))
    with torch.inference_mode():
        ws = G.mapping(z, None)
        # ru_maxrss would carry the parent's peak across fork; the kernel's high-water mark can be reset
        Path("/proc/self/clear_refs").write_text("5")
        before = _status_bytes("VmRSS")
        start = time.perf_counter()
        if side == "onnx":
            img = ort(ws)
        elif side == "reference":
            img = G.synthesis(ws, noise_mode="const", force_fp32=True)
        else:
            img = G.synthesis(ws)
        seconds = time.perf_counter() - start
    peak = _status_bytes("VmHWM")
    print(json.dumps({"peak": peak, "before": before, "seconds": seconds, "shape": list(img.shape), **export}))


def memory(args) -> None:
    for name in [n for n in MEMORY_CONFIGS if not args.only or n.startswith(args.only)]:
        for side in ("studio",) + (("reference",) if args.reference else ()) + (("onnx",) if args.onnx else ()):
            cmd = [sys.executable, __file__, "--memory-child", name, "--side", side, "--threads", str(args.threads)]
            if args.reference:
                cmd += ["--reference", args.reference]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{name} {side}: failed ({out.stderr.strip().splitlines()[-1] if out.stderr else out.returncode})")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            verdict = "" if side != "studio" else (" (under the 2 GB goal)" if r["peak"] < MEMORY_LIMIT_GB * 1e9
                                                        else " (OVER the 2 GB goal)")
            exported = (f" (exporting the graph first: {r['export_seconds']:.0f} s, peak {r['export_peak'] / 1e9:.2f} GB)"
                        if "export_seconds" in r else "")
            print(f"{name} {side:9s}: peak {r['peak'] / 1e9:.2f} GB, of which rendering one image "
                  f"{(r['peak'] - r['before']) / 1e9:.2f} GB, {r['seconds']:.1f} s{verdict}{exported}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reference", default=None, help="a checkout of NVlabs/stylegan3 to run side by side")
    p.add_argument("--onnx", action="store_true", help="also ONNX Runtime on the exported graph")
    p.add_argument("--only", default=None, metavar="NAME", help="memory: only stylegan3-t or stylegan3-r")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch8-repeats", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--side", default="studio", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.side, args.reference, args.threads)
        return
    if not args.skip_speed:
        speed(args)
    if not args.skip_memory:
        memory(args)


if __name__ == "__main__":
    main()
