# Windows build (not run in this project's CI machine: it needs Windows). From the project root:
#   py -3.11 -m venv .venv; .venv\Scripts\pip install -c requirements\constraints.txt -e . -r packaging\requirements.txt
#   .venv\Scripts\python -m PyInstaller --noconfirm packaging\studio.spec
#   & "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" packaging\windows\installer.iss
# The result: dist\GAN-Art-Studio-Setup.exe (a Start menu entry, an uninstaller).
$ErrorActionPreference = "Stop"
python -m PyInstaller --noconfirm --distpath build\bundle\dist --workpath build\bundle\work packaging\studio.spec
& build\bundle\dist\gan-art-studio\gan-art-studio.exe --self-test --no-window
& "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" packaging\windows\installer.iss
