"""Real files the studio reads, to damage byte by byte (:mod:`tests.hostile.mutate`), and the
command that reads each kind."""

from __future__ import annotations

from pathlib import Path


def build(folder: Path, tiny_model: Path) -> dict[str, tuple[Path, list[str]]]:
    """Write one good file of each kind into ``folder``; returns ``{kind: (file, argv template)}``.
    In the argv, ``{file}`` is the damaged file and ``{out}`` a place to write."""
    from studio.cli import main
    from tests.conftest import GoldenCase
    from tests.nvidia_pickles import write_pickle

    folder.mkdir(parents=True, exist_ok=True)
    native = folder / "tiny.safetensors"
    if not native.exists():
        assert main(["convert", str(tiny_model), str(native)]) == 0
    pickle = folder / "skip32.pkl"
    if not pickle.exists():
        write_pickle(GoldenCase("sg2ada_skip32"), pickle)
    sg3 = folder / "sg3r.pkl"
    if not sg3.exists():
        write_pickle(GoldenCase("sg3r_64"), sg3)
    from tests.conftest import GOLDEN_DIR
    out = folder / "made"
    if not (out / "seed0007.png").exists():
        assert main(["generate", "--network", str(tiny_model), "--seeds", "7", "--outdir", str(out)]) == 0
    from studio.imaging.metadata import read_recipe

    recipe = folder / "recipe.json"
    recipe.write_text(read_recipe(out / "seed0007.png").to_json())
    tif = folder / "print.tif"
    if not tif.exists():
        assert main(["export", str(out / "seed0007.png"), "--format", "tiff", "--out", str(tif),
                     "--network", str(tiny_model)]) == 0
    network = ["--network", str(tiny_model)]
    return {
        "rosinality .pt": (tiny_model, ["info", "{file}"]),
        "studio .safetensors": (native, ["info", "{file}"]),
        "NVIDIA .pkl": (pickle, ["info", "{file}"]),
        "StyleGAN3 .pkl": (sg3, ["info", "{file}"]),
        "TF-era .pkl": (GOLDEN_DIR / "sg2tf_skip32.pkl", ["info", "{file}"]),
        "PNG with a recipe": (out / "seed0007.png", ["export", "{file}", "--out", "{out}", *network]),
        "recipe .json": (recipe, ["export", "{file}", "--out", "{out}", *network]),
        "TIFF with a recipe": (tif, ["export", "{file}", "--out", "{out}", *network]),
    }


def argv_for(template: list[str], file: Path, out: Path) -> list[str]:
    return [part.replace("{file}", str(file)).replace("{out}", str(out)) for part in template]
