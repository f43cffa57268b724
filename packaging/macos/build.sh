#!/bin/sh
# macOS build (not run here: it needs a Mac with Xcode's command line tools). From the project root,
# in a venv with the project and packaging/requirements.txt installed:
#  1. PyInstaller builds the one-folder bundle, then wraps it as GAN Art Studio.app (BUNDLE step:
#     pass --windowed, or add a BUNDLE(...) to a copy of studio.spec with the .icns icon made from
#     resources/icons/gan-art-studio.svg by `iconutil`);
#  2. codesign --deep --options runtime --sign "Developer ID Application: ..." "GAN Art Studio.app";
#  3. xcrun notarytool submit GAN-Art-Studio.dmg --keychain-profile NOTARY --wait, then
#     xcrun stapler staple GAN-Art-Studio.dmg;
#  4. hdiutil create -volname "GAN Art Studio" -srcfolder "GAN Art Studio.app" GAN-Art-Studio.dmg.
set -eu
python -m PyInstaller --noconfirm --windowed --distpath build/bundle/dist --workpath build/bundle/work \
    packaging/studio.spec
build/bundle/dist/gan-art-studio/gan-art-studio --self-test --no-window
echo "now sign, make the .dmg and notarise it (steps 2-4 above): they need your Apple Developer ID"
