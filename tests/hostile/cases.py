"""Hostile inputs for the studio's command line, as an attacker or a careless user would bring them.

Each :class:`Case` is a command (``studio ARGS...``) on files built into a folder. Every one must end
with a sentence (exit status 1 or 2, one line on stderr) within the time and memory limits; see
:mod:`tests.hostile.harness`. The files are small: a bomb is what a file *declares*, not its size.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

#: Marker a payload would create if anything in a file were ever executed.
MARKER_NAME = "PAYLOAD-RAN"


@dataclass(frozen=True)
class Case:
    """One hostile command: ``argv`` for ``studio``, grouped by what it attacks."""

    name: str
    group: str
    argv: list[str]
    #: "refused": must end with a sentence; "handled": reading it is right too (the damage does not matter)
    expect: str = "refused"


# --------------------------------------------------------------------------------------------
# Small file builders
# --------------------------------------------------------------------------------------------


def _safetensors(header: dict | str | bytes, body: bytes = b"", *, declared: int | None = None) -> bytes:
    """A safetensors file: 8-byte little-endian header length, the header, the tensor bytes."""
    raw = header if isinstance(header, bytes) else (header if isinstance(header, str) else json.dumps(header)).encode()
    return struct.pack("<Q", len(raw) if declared is None else declared) + raw + body


def _native_header(config: dict, **metadata: str) -> dict:
    """The header of a studio network file whose generator config is ``config`` (no tensors)."""
    meta = {"format": "gan-art-studio", "format_version": "1", "kind": "stylegan2",
            "generator_config": json.dumps(config), "fingerprint": "0" * 64,
            "provenance": "{}", "training_state": "{}"}
    meta.update(metadata)
    return {"__metadata__": meta}


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png(width: int, height: int, depth: int, color: int, idat: bytes, text: dict[str, str] | None = None) -> bytes:
    """A PNG built chunk by chunk, so its header can declare anything."""
    chunks = [_png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0))]
    for key, value in (text or {}).items():
        chunks.append(_png_chunk(b"iTXt", key.encode() + b"\x00\x00\x00\x00\x00" + value.encode()))
    chunks.append(_png_chunk(b"IDAT", idat))
    chunks.append(_png_chunk(b"IEND", b""))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def _zlib_zeros(n_bytes: int) -> bytes:
    """``n_bytes`` of zeros, deflated (a bomb: a few KB that inflate to ``n_bytes``)."""
    packer = zlib.compressobj(9)
    block = bytes(2**20)
    out = [packer.compress(block) for _ in range(n_bytes // len(block))]
    return b"".join(out) + packer.compress(bytes(n_bytes % len(block))) + packer.flush()


def _recipe(template: dict, **changes) -> str:
    recipe = json.loads(json.dumps(template))
    recipe.update(changes)
    return json.dumps(recipe)


def _array(shape: list[int], dtype: str = "float32") -> dict:
    count = 1
    for n in shape:
        count *= n
    return {"dtype": dtype, "shape": shape, "b64": base64.b64encode(bytes(4 * count)).decode()}


# --------------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------------


def _stylegan3_and_tensorflow(network) -> None:
    """StyleGAN3 pickles that do not fit their own settings, and TF-era pickles bent out of shape."""
    import numpy as np
    import torch

    from studio.gan.formats.nvidia_pickle import read_nvidia_pickle
    from tests.conftest import GOLDEN_DIR, GoldenCase
    from tests.nvidia_pickles import dump_nvidia, dump_tf, network_from_state, tf_state

    case = GoldenCase("sg3t_64")

    def sg3(name: str, what: str, *, attrs=None, state=None, kwargs=None) -> None:
        G = network_from_state("Generator", state or case.group("G"), attrs or case.meta["generator_attrs"],
                               kwargs or case.meta["generator_kwargs"])
        network(name, dump_nvidia({"G_ema": G, "G": G, "D": None}), what)

    attrs = {k: dict(v) for k, v in case.meta["generator_attrs"].items()}
    attrs["synthesis.L9_84_64"]["out_sampling_rate"] = 4096
    sg3("sg3-rate.pkl", "StyleGAN3 layer whose sampling rate does not fit its schedule", attrs=attrs)
    margin = {k: dict(v) for k, v in case.meta["generator_attrs"].items()}
    margin["synthesis"]["margin_size"] = 10 ** 9
    sg3("sg3-margin.pkl", "StyleGAN3 synthesis declaring a margin of 10**9 pixels", attrs=margin)
    sg3("sg3-base.pkl", "StyleGAN3 settings declaring channel_base 2**40",
        kwargs={**case.meta["generator_kwargs"], "channel_base": 2 ** 40})
    state = dict(case.group("G"))
    state["synthesis.L3_36_64.down_filter"] = torch.ones(12, 12)
    sg3("sg3-filter.pkl", "StyleGAN3 layer with a 2-D filter where a 1-D one belongs", state=state)

    data = read_nvidia_pickle(GOLDEN_DIR / "sg2tf_skip32.pkl")
    G, D, Gs = (tf_state(data[k]) for k in ("G", "D", "G_ema"))
    network("tf-truncated.pkl", (GOLDEN_DIR / "sg2tf_skip32.pkl").read_bytes()[:1_500_000], "TF-era pickle cut short")
    huge = {**Gs, "static_kwargs": {**Gs["static_kwargs"], "resolution": 1 << 20}}
    network("tf-resolution.pkl", dump_tf(G, D, huge), "TF-era pickle declaring a 1,048,576 px resolution")
    extra = {**Gs, "components": {**Gs["components"], "attention": Gs["components"]["mapping"]}}
    network("tf-component.pkl", dump_tf(G, D, extra), "TF-era pickle with a third sub-network")
    bad = {**Gs, "variables": [("dlatent_avg", np.array(["not", "numbers"]))]}
    network("tf-strings.pkl", dump_tf(G, D, bad), "TF-era pickle whose variable holds strings")
    network("tf-pair.pkl", dump_tf(G, D, {**Gs, "variables": [("dlatent_avg",)]}), "TF-era variable without a value")


def build(folder: Path, tiny_model: Path, recipe_png: Path) -> list[Case]:
    """Write every hostile input into ``folder`` and return the commands that read them.

    ``tiny_model`` is a small network and ``recipe_png`` an image the studio made with it (its
    recipe is the template for the broken ones).
    """
    folder.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []
    marker = folder / MARKER_NAME

    def file(name: str, data: bytes | str) -> str:
        path = folder / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return str(path)

    def network(name: str, data: bytes | str, what: str) -> None:
        cases.append(Case(what, "network", ["info", file(name, data)]))

    # -- pickles: crashes, payloads, damage ---------------------------------------------------
    deep = b"\x85" * 150_000
    network("deep-setitem.pkl", b"\x80\x02}" + b")" + deep + b"Ns.", "dict key nested 150,000 deep (SETITEM)")
    network("deep-setitems.pkl", b"\x80\x02}(" + b")" + deep + b"Nu.", "dict key nested deep (SETITEMS)")
    network("deep-dict.pkl", b"\x80\x02(" + b")" + deep + b"Nd.", "dict key nested deep (DICT)")
    network("deep-frozenset.pkl", b"\x80\x04(" + b")" + deep + b"\x91.", "frozenset member nested deep")
    network("deep-list.pkl", b"\x80\x02" + b"]" * 200_000 + b"a" * 199_999 + b".", "lists nested 200,000 deep")
    command = f"touch {marker}".encode()
    network("reduce-system.pkl", b"\x80\x02cos\nsystem\n" + b"X" + struct.pack("<I", len(command)) + command
            + b"\x85R.", "os.system payload (REDUCE)")
    network("reduce-posix.pkl", b"\x80\x02cposix\nsystem\n" + b"X" + struct.pack("<I", len(command)) + command
            + b"\x85R.", "posix.system payload")
    network("eval.pkl", b"\x80\x02c__builtin__\neval\nX\x10\x00\x00\x00__import__('os')\x85R.", "builtins.eval payload")
    network("persistent-id.pkl", b"\x80\x02Pabc\n.", "persistent id")
    network("ext-code.pkl", b"\x80\x02\x82\x7f.", "copyreg extension code")
    network("tensorflow.pkl", b"\x80\x02cdnnlib.tflib.network\nNetwork\n)\x81.", "TensorFlow-era network object")
    _stylegan3_and_tensorflow(network)
    network("not-a-dict.pkl", b"\x80\x02K\x05.", "a pickle holding the number 5")
    network("truncated.pkl", b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94(X\x05\x00", "pickle cut short")
    network("empty.pkl", b"", "empty file")
    network("page.pkl", "<!DOCTYPE html><html><body>Please sign in</body></html>", "a web page saved as .pkl")
    network("text.pt", "just some text\n" * 20, "text named .pt")
    network("legacy.pt", b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19garbage", "legacy torch magic and garbage")

    # -- zips (rosinality .pt) -------------------------------------------------------------------
    def torch_zip(name: str, data_pkl: bytes, *, compress: bool = False) -> bytes:
        path = folder / name
        method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        with zipfile.ZipFile(path, "w", compression=method) as archive:
            archive.writestr("archive/data.pkl", data_pkl)
            archive.writestr("archive/version", "3\n")
        return path.read_bytes()

    torch_zip("bomb.pt", bytes(300 * 2**20), compress=True)
    cases.append(Case("zip bomb: 300 MB of data.pkl in a few hundred KB", "network", ["info", str(folder / "bomb.pt")]))
    torch_zip("deep.pt", b"\x80\x02}" + b")" + deep + b"Ns.")
    cases.append(Case("dict key nested deep in a .pt's data.pkl", "network", ["info", str(folder / "deep.pt")]))
    torch_zip("payload.pt", b"\x80\x02cos\nsystem\n" + b"X" + struct.pack("<I", len(command)) + command + b"\x85R.")
    cases.append(Case("os.system payload in a .pt", "network", ["info", str(folder / "payload.pt")]))
    whole = torch_zip("cut.pt", b"\x80\x02}q\x00.")
    network("cut.pt", whole[: len(whole) // 2], "a .pt cut in half")

    # -- safetensors headers and declared sizes -----------------------------------------------------
    base = {"kind": "stylegan2", "z_dim": 64, "w_dim": 64, "c_dim": 0, "img_resolution": 32, "img_channels": 3,
            "mapping_layers": 2, "channel_base": 1024, "channel_max": 64}
    for what, change in [
        ("a million mapping layers", {"mapping_layers": 1_000_000}),
        ("a 65,536-pixel resolution", {"img_resolution": 65536}),
        ("a z_dim of 5,000,000", {"z_dim": 5_000_000}),
        ("channels given as a list", {"channel_base": [1, 2]}),
        ("conv_clamp as a string", {"conv_clamp": "256"}),
        ("zero channels", {"channel_base": 0}),
        ("a negative resolution", {"img_resolution": -32}),
        ("a billion classes", {"c_dim": 10**9}),
    ]:
        network(f"config-{len(cases)}.safetensors", _safetensors(_native_header({**base, **change})),
                f"safetensors config: {what}")
    network("provenance-list.safetensors", _safetensors(_native_header(base, provenance="[1, 2]")),
            "safetensors provenance of the wrong JSON type")
    network("state-number.safetensors", _safetensors(_native_header(base, training_state="7")),
            "safetensors training state of the wrong JSON type")
    network("config-nested.safetensors", _safetensors(_native_header(base, generator_config="[" * 50_000 + "]" * 50_000)),
            "safetensors config nested 50,000 deep")
    network("header-nested.safetensors", _safetensors("[" * 100_000 + "]" * 100_000), "safetensors header nested deep")
    network("header-claims.safetensors", _safetensors({"__metadata__": {}}, declared=99 * 2**20),
            "safetensors header that claims 99 MB")
    network("header-big.safetensors", _safetensors('{"__metadata__": {"x": "' + "a" * (40 * 2**20) + '"}}'),
            "safetensors with a real 40 MB header")
    network("tensor-past-end.safetensors", _safetensors(
        {**_native_header(base), "G_ema.x": {"dtype": "F32", "shape": [10**6], "data_offsets": [0, 4 * 10**6]}}),
        "safetensors tensor past the end of the file")
    network("tensor-huge.safetensors", _safetensors(
        {**_native_header(base), "G_ema.x": {"dtype": "F32", "shape": [10**12], "data_offsets": [0, 4 * 10**12]}}),
        "safetensors tensor that declares 4 TB")

    # -- files that are not files -------------------------------------------------------------------
    fifo = folder / "pipe.pkl"
    os.mkfifo(fifo)
    cases.append(Case("a FIFO named as a network", "network", ["info", str(fifo)]))
    cases.append(Case("a character device named as a network", "network", ["info", "/dev/zero"]))
    cases.append(Case("a folder named as a network", "network", ["info", str(folder)]))
    cases.append(Case("a FIFO as convert's input", "network", ["convert", str(fifo), str(folder / "out.safetensors")]))

    # -- recipes: images and JSON -----------------------------------------------------------------
    from PIL import Image

    from studio.gan.formats import load_network
    from studio.imaging.metadata import PNG_KEY, read_recipe

    G = load_network(tiny_model, with_discriminator=False).G
    template = json.loads(read_recipe(recipe_png).to_json())
    template["model"]["path"] = None
    net = ["--network", str(tiny_model)]

    def out() -> str:
        """A fresh output path for each command (an existing one would be refused for that reason alone)."""
        return str(folder / f"out-{len(cases)}.png")

    def recipe_case(name: str, text: str, what: str) -> None:
        path = file(name, text)
        cases.append(Case(what, "recipe", ["export", path, "--out", out(), *net]))

    recipe_case("nested.json", "[" * 100_000 + "]" * 100_000, "recipe JSON nested 100,000 deep")
    recipe_case("z-short.json", _recipe(template, seed=None, z=_array([1, 3])), "recipe z of the wrong length")
    recipe_case("z-batch0.json", _recipe(template, seed=None, z=_array([0, G.z_dim])), "recipe z with a zero batch")
    recipe_case("w-layers.json", _recipe(template, seed=None, w=_array([1, 99, G.w_dim])), "recipe w with 99 layers")
    recipe_case("w-rank.json", _recipe(template, seed=None, w=_array([1, 2, 3, 4, 5])), "recipe w of rank 5")
    recipe_case("z-huge.json", _recipe(template, seed=None, z={"dtype": "float32", "shape": [10**9, 10**9], "b64": ""}),
                "recipe z that declares 10^18 numbers")
    recipe_case("psi-nan.json", _recipe(template, truncation_psi="nan"), "recipe psi as a string")
    recipe_case("seed-neg.json", _recipe(template, seed=-5), "recipe with a negative seed")
    recipe_case("class-huge.json", _recipe(template, class_index=-1), "recipe class -1")
    recipe_case("model-list.json", _recipe(template, model=[1, 2]), "recipe model of the wrong type")
    recipe_case("post-nested.json", _recipe(template, postprocess={"a": "DEEP"}).replace('"DEEP"', "[" * 5000 + "]" * 5000),
                "recipe postprocess nested 5,000 deep")
    lure = json.loads(_recipe(template))
    lure["model"] = {"fingerprint": "f" * 64, "name": "lure", "path": str(folder / "reduce-system.pkl")}
    path = file("lure.json", json.dumps(lure))
    cases.append(Case("recipe naming a hostile model path", "recipe", ["export", path, "--out", out()]))
    lure["model"]["path"] = "~/../../dev/zero"
    path = file("lure-dev.json", json.dumps(lure))
    cases.append(Case("recipe naming /dev/zero as its model", "recipe", ["export", path, "--out", out()]))

    picture = Image.open(recipe_png)
    for suffix, writer in [
        ("png", lambda p, t: _write_png_text(p, picture, PNG_KEY, t)),
        ("tif", lambda p, t: picture.save(p, tiffinfo={270: t})),
        ("jpg", lambda p, t: picture.convert("RGB").save(p, comment=b"studio.recipe " + t.encode())),
    ]:
        target = folder / f"nested-recipe.{suffix}"
        writer(target, "[" * 30_000 + "]" * 30_000)        # a JPEG comment holds at most 64 KB
        # a TIFF description is anyone's text: one that is no recipe leaves a plain picture to export
        cases.append(Case(f"{suffix.upper()} whose recipe nests 30,000 deep", "recipe",
                          ["export", str(target), "--out", out(), *net], "handled" if suffix == "tif" else "refused"))
    target = folder / "z-wrong.png"
    _write_png_text(target, picture, PNG_KEY, _recipe(template, seed=None, z=_array([2, 7])))
    cases.append(Case("PNG whose recipe has a z of the wrong shape", "recipe",
                      ["export", str(target), "--out", out(), *net]))

    # -- images: pixel bombs ----------------------------------------------------------------------
    bomb8 = file("bomb8.png", _png(60_000, 60_000, 8, 2, _zlib_zeros(2**20)))
    cases.append(Case("8-bit PNG declaring 60,000 x 60,000", "image", ["export", bomb8, "--out", out(), *net]))
    bomb16 = file("bomb16.png", _png(20_000, 20_000, 16, 2, _zlib_zeros(64 * 2**20)))
    cases.append(Case("16-bit PNG declaring 20,000 x 20,000 (2.4 GB)", "image",
                      ["export", bomb16, "--out", out(), *net]))
    data = folder / "data"
    data.mkdir()
    (data / "ok.png").write_bytes(recipe_png.read_bytes())
    (data / "bomb16.png").write_bytes(Path(bomb16).read_bytes())
    (data / "bomb8.png").write_bytes(Path(bomb8).read_bytes())
    cases.append(Case("a dataset with pixel bombs (skipped and listed)", "dataset",
                      ["prepare", str(data), str(folder / "prepared"), "--res", "64", "--force"], "handled"))
    only_bombs = folder / "bombs"
    only_bombs.mkdir()
    (only_bombs / "bomb16.png").write_bytes(Path(bomb16).read_bytes())
    cases.append(Case("a dataset of nothing but a bomb", "dataset",
                      ["prepare", str(only_bombs), str(folder / "prepared2"), "--res", "64"]))

    # -- arguments that ask for too much --------------------------------------------------------------
    image = str(recipe_png)
    for what, argv in [
        ("export --size 30000x30000", ["export", image, "--out", out(), "--size", "30000x30000", *net]),
        ("export --size 100000x100000", ["export", image, "--out", out(), "--size", "100000x100000", *net]),
        ("export --dpi nan", ["export", image, "--out", out(), "--dpi", "nan", *net]),
        ("interpolate --frames 1000000000", ["interpolate", *net, "--seeds", "1,2", "--frames", "1000000000",
                                             "--out", str(folder / "v.mp4")]),
        ("generate --seeds 0-4294967296", ["generate", *net, "--seeds", "0-4294967296", "--outdir", str(folder / "g")]),
        ("generate --trunc nan", ["generate", *net, "--seeds", "1", "--trunc", "nan", "--outdir", str(folder / "g")]),
        ("evolve --population 1000000000", ["evolve", *net, "--prompt", "red", "--population", "1000000000",
                                            "--outdir", str(folder / "e")]),
        ("train --gamma nan", ["train", "--data", str(data), "--outdir", str(folder / "runs"), "--gamma", "nan"]),
        ("train --outdir under a file", ["train", "--data", str(data), "--outdir", str(folder / "empty.pkl" / "runs")]),
    ]:
        cases.append(Case(what, "arguments", argv))
    return cases


def _write_png_text(path: Path, picture, key: str, text: str) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt(key, text)
    picture.save(path, pnginfo=info)
