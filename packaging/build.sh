#!/bin/sh
# Build the Linux desktop bundle from the project's own files (`make bundle` runs this in .venv):
#   dist/gan-art-studio-VERSION-linux-x86_64.tar.gz   the folder, install.sh, uninstall.sh, icon, .desktop
#   dist/gan-art-studio_VERSION_amd64.deb             the same for apt (installs into /opt)
# Prints the sizes and the build time. CPU PyTorch only (see packaging/README.md for a CUDA add-on).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-$ROOT/.venv/bin/python}
cd "$ROOT"
START=$(date +%s)
VERSION=$("$PY" -c "import studio; print(studio.__version__)")
BUILD=$ROOT/build/bundle
DIST=$ROOT/dist
rm -rf "$BUILD" && mkdir -p "$BUILD" "$DIST"

"$PY" -m PyInstaller --noconfirm --clean --log-level WARN --distpath "$BUILD/dist" --workpath "$BUILD/work" \
    packaging/studio.spec
APP=$BUILD/dist/gan-art-studio
# PyTorch's libraries ship their symbol tables (libtorch_cpu.so: 415 MB, 345 MB without)
find "$APP/_internal/torch/lib" -name 'libtorch*.so*' -exec strip --strip-unneeded {} +
"$APP/gan-art-studio" --self-test --no-window || { echo "the bundle fails its self-test" >&2; exit 1; }

# -- the tarball: the folder and what installs it for the user -------------------------------------
STAGE=$BUILD/gan-art-studio-$VERSION
mkdir -p "$STAGE"
cp -a "$APP" "$STAGE/gan-art-studio"
cp packaging/linux/install.sh packaging/linux/uninstall.sh packaging/linux/gan-art-studio.desktop "$STAGE/"
cp resources/icons/gan-art-studio.svg "$STAGE/"
TARBALL=$DIST/gan-art-studio-$VERSION-linux-x86_64.tar.gz
tar -C "$BUILD" -czf "$TARBALL.partial" "gan-art-studio-$VERSION" && mv "$TARBALL.partial" "$TARBALL"

# -- the .deb: /opt/gan-art-studio, a command, the menu entry and the icon --------------------------
DEB=$BUILD/deb
mkdir -p "$DEB/DEBIAN" "$DEB/opt" "$DEB/usr/bin" "$DEB/usr/share/applications" \
    "$DEB/usr/share/icons/hicolor/scalable/apps"
cp -a "$APP" "$DEB/opt/gan-art-studio"
ln -s /opt/gan-art-studio/gan-art-studio "$DEB/usr/bin/gan-art-studio"
sed "s|@EXEC@|/opt/gan-art-studio/gan-art-studio|" packaging/linux/gan-art-studio.desktop \
    > "$DEB/usr/share/applications/gan-art-studio.desktop"
cp resources/icons/gan-art-studio.svg "$DEB/usr/share/icons/hicolor/scalable/apps/"
SIZE_KB=$(du -sk "$DEB/opt" | cut -f1)
sed -e "s|@VERSION@|$VERSION|" -e "s|@SIZE@|$SIZE_KB|" packaging/linux/control > "$DEB/DEBIAN/control"
cp packaging/linux/postinst packaging/linux/postrm "$DEB/DEBIAN/"
chmod 0755 "$DEB/DEBIAN/postinst" "$DEB/DEBIAN/postrm"
DEBFILE=$DIST/gan-art-studio_${VERSION}_amd64.deb
dpkg-deb --root-owner-group -Zxz --build "$DEB" "$DEBFILE" >/dev/null

END=$(date +%s)
echo "bundle: $(du -sh "$APP" | cut -f1) unpacked ($(du -sm "$APP" | cut -f1) MB)"
echo "tarball: $TARBALL ($(du -sh "$TARBALL" | cut -f1))"
echo "deb: $DEBFILE ($(du -sh "$DEBFILE" | cut -f1))"
echo "built in $((END - START)) s"
