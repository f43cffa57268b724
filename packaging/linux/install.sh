#!/bin/sh
# Install GAN Art Studio for this user (no root): the program in ~/.local/share/gan-art-studio-app,
# a `gan-art-studio` command in ~/.local/bin, and an entry with its icon in the applications menu.
# Remove it again with uninstall.sh (installed beside the program).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
PREFIX=$DATA/gan-art-studio-app
BIN=$HOME/.local/bin

if [ ! -x "$HERE/gan-art-studio/gan-art-studio" ]; then
    echo "install.sh: run it from the unpacked folder (gan-art-studio/ beside it is missing)" >&2
    exit 1
fi
mkdir -p "$PREFIX" "$BIN" "$DATA/applications" "$DATA/icons/hicolor/scalable/apps"
rm -rf "$PREFIX/app.new"
cp -a "$HERE/gan-art-studio" "$PREFIX/app.new"
rm -rf "$PREFIX/app"
mv "$PREFIX/app.new" "$PREFIX/app"
cp "$HERE/uninstall.sh" "$PREFIX/uninstall.sh"
ln -sf "$PREFIX/app/gan-art-studio" "$BIN/gan-art-studio"
cp "$HERE/gan-art-studio.svg" "$DATA/icons/hicolor/scalable/apps/gan-art-studio.svg"
sed "s|@EXEC@|$PREFIX/app/gan-art-studio|" "$HERE/gan-art-studio.desktop" > "$DATA/applications/gan-art-studio.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$DATA/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q "$DATA/icons/hicolor" 2>/dev/null || true
echo "GAN Art Studio is installed: find it in your applications menu, or run gan-art-studio"
echo "(remove it with $PREFIX/uninstall.sh; your pictures and library stay)"
