"""Retake the README's screenshots of the default model: Explore, Explore with every class, Explore
on a 16:9 canvas, Style Mix, Evolve and Export (seeds 0 and 1 as a 40 x 50 cm portrait print with
levels), each once its pictures have rendered.

Run it on a display (a real one, or Xvfb with a window manager) after the default model changes:

    Xvfb :77 -screen 0 1400x900x24 & DISPLAY=:77 openbox &
    DISPLAY=:77 .venv/bin/python tools/screenshots.py [--out resources/screenshots] [--only explore,evolve]

The studio runs in a throwaway home (``STUDIO_HOME``), so your settings, library and recent
models are neither used nor touched. Evolve runs the panel's defaults (the prompt "an abstract
painting with orange triangles", class geometric) and shows its first generation.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHOTS = ("explore", "explore-all-classes", "explore-canvas", "style-mix", "evolve", "export")
SIZE = (1400, 880)
TIMEOUT_S = 600


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(ROOT / "resources" / "screenshots"))
    p.add_argument("--only", default=",".join(SHOTS), help=f"comma-separated, of {', '.join(SHOTS)}")
    args = p.parse_args()
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(wanted) - set(SHOTS)
    if unknown:
        p.error(f"unknown screenshots: {', '.join(sorted(unknown))}")
    os.environ["STUDIO_HOME"] = tempfile.mkdtemp(prefix="studio-shots-")

    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv)
    from studio.ui.main_window import MainWindow
    from studio.ui.session import StudioSession

    session = StudioSession()
    window = MainWindow(session)
    window.resize(*SIZE)
    window.show()
    session.client.start()
    session.open_model("default")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def wait(done, what: str) -> None:
        start = time.monotonic()
        while not done():
            if time.monotonic() - start > TIMEOUT_S:
                raise SystemExit(f"gave up waiting for {what}")
            app.processEvents()
            time.sleep(0.02)
        for _ in range(20):                       # let the last pictures paint
            app.processEvents()
            time.sleep(0.02)

    def rendered(grid) -> bool:
        items = grid.grid_model.items
        return bool(items) and all(item.image is not None and not item.stale for item in items)

    def save(name: str) -> None:
        window.grab().save(str(out / f"{name}.png"))
        print(f"{out / name}.png")

    wait(lambda: session.model is not None and rendered(window.explore.grid), "the Explore grid")
    explore = window.explore
    if "explore" in wanted:
        save("explore")
    if "explore-all-classes" in wanted:
        before = explore.class_combo.currentIndex()
        explore.class_combo.setCurrentIndex(explore.class_combo.findData("all"))
        wait(lambda: len(explore.grid.grid_model.items) > 0 and rendered(explore.grid), "every class")
        save("explore-all-classes")
        explore.class_combo.setCurrentIndex(before)
    if "explore-canvas" in wanted:
        explore.canvas_combo.setCurrentIndex(explore.canvas_combo.findData("16:9"))
        wait(lambda: rendered(explore.grid) and explore.grid.grid_model.items[0].image.width() >
             explore.grid.grid_model.items[0].image.height(), "the 16:9 page")
        save("explore-canvas")
        explore.canvas_combo.setCurrentIndex(0)
        wait(lambda: rendered(explore.grid), "the square page again")
    if "export" in wanted:
        explore.grid.select_rows([0, 1])
        panel = window.export_panel
        window.tabs.setCurrentWidget(panel)
        panel.source_combo.setCurrentIndex(panel.source_combo.findData("explore"))
        panel.use_selection()
        panel.levels_check.setChecked(True)
        panel.aspect_combo.setCurrentIndex(panel.aspect_combo.findData(1.25))
        panel.portrait.setChecked(True)
        panel.mode_combo.setCurrentIndex(panel.mode_combo.findData("stretch"))
        panel.size_mode.setCurrentIndex(panel.size_mode.findData("print"))
        panel.update_preview()
        wait(lambda: panel.after.pixmap() is not None and not panel.after.pixmap().isNull(), "the export preview")
        save("export")
        window.tabs.setCurrentIndex(0)
    if "style-mix" in wanted:
        window.tabs.setCurrentWidget(window.mix)
        window.mix.render()
        wait(lambda: rendered(window.mix.grid), "the style-mix matrix")
        save("style-mix")
    if "evolve" in wanted:
        panel = window.evolve
        window.tabs.setCurrentWidget(panel)
        panel.start()
        wait(lambda: panel.state is not None and not panel.running, "the first generation")
        save("evolve")
    session.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
