"""Checks before Qt starts, so a missing display or system library is a sentence, not an abort.

Qt's own message for a platform plugin that cannot load ("Could not load the Qt platform plugin
'xcb' even though it was found") names no library. On Linux we ask the dynamic loader which
libraries the xcb plugin lacks and translate them into the packages to install. Nothing here
imports Qt's GUI libraries.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

# shared library -> (Debian/Ubuntu package, Fedora package)
LIBRARY_PACKAGES = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
}

HEADLESS_PLATFORMS = {"offscreen", "minimal", "vnc", "linuxfb", "eglfs"}


def pyside_dir() -> Path | None:
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def missing_libraries(plugin: Path) -> list[str]:
    """Shared libraries the dynamic loader cannot find for ``plugin`` (via ``ldd``)."""
    ldd = shutil.which("ldd")
    if ldd is None or not plugin.exists():
        return []
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    missing = []
    for line in out.splitlines():
        if "not found" in line:
            name = line.split("=>")[0].strip()
            if name not in missing:
                missing.append(name)
    return missing


def install_hint(libraries: list[str]) -> str:
    debian = sorted({LIBRARY_PACKAGES.get(lib, (lib, lib))[0] for lib in libraries})
    fedora = sorted({LIBRARY_PACKAGES.get(lib, (lib, lib))[1] for lib in libraries})
    return (f"  Debian / Ubuntu:  sudo apt-get install {' '.join(debian)}\n"
            f"  Fedora:           sudo dnf install {' '.join(fedora)}")


def check_platform(environ: dict[str, str] | None = None) -> str | None:
    """A message explaining why the window cannot open here, or None when it can."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return None
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0]
    if platform in HEADLESS_PLATFORMS:
        return None
    wayland = bool(env.get("WAYLAND_DISPLAY")) and platform in ("", "wayland")
    if not env.get("DISPLAY") and not wayland:
        return ("No display was found (DISPLAY and WAYLAND_DISPLAY are unset), so the studio window cannot open.\n"
                "  On a server, run it on a virtual screen:  xvfb-run -a studio\n"
                "  Or use the command line, which needs no display:  studio --help")
    if wayland:
        return None
    root = pyside_dir()
    if root is None:
        return "PySide6 is not installed in this environment; run `make run` from the project folder."
    missing = missing_libraries(root / "Qt" / "plugins" / "platforms" / "libqxcb.so")
    if missing:
        return ("Qt cannot open a window because these system libraries are missing: "
                f"{', '.join(missing)}.\nInstall them with:\n{install_hint(missing)}\n"
                "The command line works without them:  studio --help")
    return None
