"""Hostile inputs against the command line: how many, and how each one ended.

Builds every case of :mod:`tests.hostile.cases` (crafted attacks) and a number of byte-level
mutations of real files (:mod:`tests.hostile.seeds`, :mod:`tests.hostile.mutate`), runs each as
``studio ...`` in a child process limited to 10 s and 1 GiB beyond the studio's own memory, and
prints one line per crafted case, then the counts by outcome (refused / accepted / noisy /
traceback / memory / hang / crash / payload).

    python benchmarks/hostile_inputs.py                         # this checkout
    python benchmarks/hostile_inputs.py --root /path/to/older   # another checkout, same inputs
    python benchmarks/hostile_inputs.py --mutations 300 --seed 1

The inputs are built by this checkout, so ``--root`` compares two versions on the same files.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the studio checkout to test (default: this one)")
    parser.add_argument("--mutations", type=int, default=120, help="damaged real files to try (default 120)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the mutations")
    parser.add_argument("--quiet", action="store_true", help="print only the counts")
    args = parser.parse_args()

    from studio.cli import main as studio
    from tests.conftest import write_tiny_model
    from tests.hostile import cases as crafted
    from tests.hostile import mutate, seeds
    from tests.hostile.harness import KINDS, Studio

    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        folder = Path(tmp)
        tiny = write_tiny_model(folder / "tiny.pt")
        made = folder / "made"
        assert studio(["generate", "--network", str(tiny), "--seeds", "3", "--outdir", str(made)]) == 0
        cases = crafted.build(folder / "cases", tiny, made / "seed0003.png")
        originals = seeds.build(folder / "seeds", tiny)
        marker = folder / "cases" / crafted.MARKER_NAME

        counts: dict[str, collections.Counter] = {"crafted": collections.Counter(), "mutated": collections.Counter()}
        slowest, heaviest = 0.0, 0.0
        started = time.monotonic()
        with Studio(folder / "work", root=args.root) as run:
            for item in cases:
                outcome = run.run(item.argv, marker=marker)
                counts["crafted"][outcome.kind] += 1
                slowest, heaviest = max(slowest, outcome.seconds), max(heaviest, outcome.peak_mb)
                if not args.quiet:
                    print(f"[{item.group:9}] {item.name}: {outcome.describe()}")
            rng = random.Random(args.seed)
            kinds = list(originals)
            damaged = folder / "damaged"
            damaged.mkdir()
            for k in range(args.mutations):
                kind = kinds[k % len(kinds)]
                original, template = originals[kind]
                target = damaged / f"{k}{original.suffix}"
                target.write_bytes(mutate.apply(original.read_bytes(), mutate.random_edits(rng)))
                outcome = run.run(seeds.argv_for(template, target, damaged / f"{k}-out.png"), marker=marker)
                counts["mutated"][outcome.kind] += 1
                slowest, heaviest = max(slowest, outcome.seconds), max(heaviest, outcome.peak_mb)
                if outcome.kind not in ("refused", "accepted") and not args.quiet:
                    print(f"[mutated  ] {kind} #{k}: {outcome.describe()}")
                    print("    " + outcome.stderr.strip().replace("\n", "\n    ")[-1500:])
                target.unlink()
        print(f"\nstudio at {args.root}: {len(cases)} crafted inputs, {args.mutations} mutated files "
              f"in {time.monotonic() - started:.0f} s; slowest {slowest:.1f} s, most memory +{heaviest:.0f} MB")
        print(f"{'':9}" + "".join(f"{kind:>10}" for kind in KINDS))
        for name, counter in counts.items():
            print(f"{name:9}" + "".join(f"{counter[kind]:>10}" for kind in KINDS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
