; Inno Setup script of the Windows installer (build.ps1 runs it after PyInstaller)
[Setup]
AppName=GAN Art Studio
AppVersion=0.1.0
DefaultDirName={autopf}\GAN Art Studio
DefaultGroupName=GAN Art Studio
OutputDir=..\..\dist
OutputBaseFilename=GAN-Art-Studio-Setup
Compression=lzma2
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64

[Files]
Source: "..\..\build\bundle\dist\gan-art-studio\*"; DestDir: "{app}"; Flags: recursesubdirs

[Icons]
Name: "{group}\GAN Art Studio"; Filename: "{app}\gan-art-studio.exe"
Name: "{group}\Uninstall GAN Art Studio"; Filename: "{uninstallexe}"
