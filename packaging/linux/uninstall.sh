#!/bin/sh
# Remove GAN Art Studio installed by install.sh. The library, settings and downloaded models
# (~/.local/share/gan-art-studio, ~/.config/gan-art-studio, ~/.cache/gan-art-studio) stay.
set -eu
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
rm -rf "$DATA/gan-art-studio-app"
rm -f "$HOME/.local/bin/gan-art-studio" "$DATA/applications/gan-art-studio.desktop" \
      "$DATA/icons/hicolor/scalable/apps/gan-art-studio.svg"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$DATA/applications" || true
echo "GAN Art Studio is removed (your library and settings are kept)"
