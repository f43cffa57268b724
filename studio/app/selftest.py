"""``studio --self-test``: is this installation whole? One line per check, in the source tree and in
the desktop bundle alike.

Each check does what a first session does, in a temporary folder that is removed afterwards:
open the bundled model through the safe loader, render a small grid, export a 16-bit PNG and read
its recipe back, write and read the library; the window's check (opened and closed offscreen) is
the front end's (:func:`studio.ui.app.window_check`).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

Check = tuple[str, Callable[[], str]]


def checks(folder: Path) -> Iterator[Check]:
    """(name, function returning a short detail) in the order they run; a check raises to fail."""
    state: dict = {}

    def model() -> str:
        from studio.core import paths
        from studio.gan.formats import load_network
        from studio.gan.render import Renderer

        path = paths.default_network_path()
        network = load_network("default", device="cpu", with_discriminator=False)
        state["renderer"] = Renderer(network, device="cpu")
        G = network.G
        return f"{network.name}, {G.img_resolution} px, {G.c_dim} classes, from {path}"

    def grid() -> str:
        from studio.gan.render_settings import RenderSettings

        renderer = state["renderer"]
        settings = RenderSettings(class_index=0 if renderer.G.c_dim else None)
        images = [image for _, image in renderer.render_seeds(range(4), settings)]
        state["images"], state["settings"] = images, settings
        if len({image.tobytes() for image in images}) < 4:
            raise RuntimeError("four seeds rendered fewer than four different pictures")
        return f"4 seeds, {images[0].shape[1]}x{images[0].shape[0]} px each"

    def export() -> str:
        from studio.imaging.export import ExportSettings, render_and_export
        from studio.imaging.metadata import read_recipe
        from studio.imaging.postprocess import PostProcess

        renderer = state["renderer"]
        recipe = renderer.recipe(state["settings"], seed=1)
        target = folder / "print.png"
        report = render_and_export(renderer, recipe, PostProcess(long_side=256, bit_depth=16), ExportSettings(),
                                   target)
        if read_recipe(report.path) is None:
            raise RuntimeError("the exported PNG carries no recipe")
        state["recipe"] = recipe
        return f"{report.size[0]}x{report.size[1]} px, {report.bits}-bit PNG with its recipe"

    def library() -> str:
        from studio.library import Library

        with Library(folder / "library.sqlite") as lib:
            image_id = lib.star(state["recipe"], _png(state["images"][1]), source="self-test")
            back = lib.get(image_id)
            if back.recipe != state["recipe"]:
                raise RuntimeError("the library gave back another recipe than it was given")
        return "starred an image and read it back"

    yield "model", model
    yield "render", grid
    yield "export", export
    yield "library", library


def _png(image) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def run(extra: list[Check] | None = None, print_line: Callable[[str], None] = print) -> int:
    """Run every check (and ``extra`` ones after them); 0 when all pass, 1 otherwise."""
    failed = 0
    with tempfile.TemporaryDirectory(prefix="studio-self-test-") as tmp:
        folder = Path(tmp)
        home = os.environ.get("STUDIO_HOME")
        os.environ["STUDIO_HOME"] = str(folder / "home")          # nothing touches the user's own data
        try:
            everything = list(checks(folder)) + list(extra or [])
            blocked = False
            for name, fn in everything:
                if blocked and name in ("render", "export", "library"):
                    print_line(f"SKIP {name}: needs the model")
                    failed += 1
                    continue
                start = time.perf_counter()
                try:
                    detail = fn()
                except Exception as exc:  # noqa: BLE001 - a failing check is a line, never a traceback
                    failed += 1
                    blocked = blocked or name == "model"
                    print_line(f"FAIL {name}: {exc}")
                    continue
                print_line(f"ok   {name}: {detail} ({time.perf_counter() - start:.1f} s)")
        finally:
            if home is None:
                os.environ.pop("STUDIO_HOME", None)
            else:
                os.environ["STUDIO_HOME"] = home
    print_line("self-test passed" if not failed else f"self-test FAILED: {failed} check(s)")
    return 0 if not failed else 1
