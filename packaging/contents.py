"""What the desktop bundle holds, in one place: the spec (``studio.spec``) reads it and
``tests/test_packaging.py`` checks it against what the studio imports.

Data files are (source relative to the project root, folder inside the bundle); the bundled
models and the icon land where :mod:`studio.core.paths` looks for them (next to the ``studio``
package). Packages are collected whole where PyInstaller's import analysis cannot see what they
load at run time (open_clip's model configs and vocabulary, imageio-ffmpeg's ffmpeg binary).
"""

DATA = [
    ("models/default-abstract.safetensors", "models"),
    ("models/default-abstract.md", "models"),
    ("models/default-clip", "models/default-clip"),
    ("models/default-clip-config.json", "models"),
    ("models/catalog.json", "models"),
    ("resources/icons/gan-art-studio.svg", "resources/icons"),
    ("resources/default-abstract-samples.png", "resources"),
]

#: packages whose data files (not only modules) the studio needs at run time
COLLECT_DATA = ["open_clip", "imageio_ffmpeg", "safetensors", "pyqtgraph", "superqt"]

#: the studio's modules are imported lazily (inside functions, on the inference thread): every one
#: is listed so that the bundle holds them all
HIDDEN_PACKAGES = ["studio"]

#: third-party modules the studio imports (top-level names); the test checks this list covers them
THIRD_PARTY = ["torch", "torchvision", "numpy", "PIL", "safetensors", "platformdirs", "requests", "tqdm",
               "open_clip", "PySide6", "shiboken6", "superqt", "pyqtgraph", "imageio", "imageio_ffmpeg",
               "onnxruntime", "huggingface_hub", "urllib3"]

#: imported by the studio where present, and left out of the bundle on purpose (it works without)
OPTIONAL = ["onnx"]

#: never in the bundle: test and build tools, GPU libraries, what the studio does not use
EXCLUDES = ["pytest", "_pytest", "pytestqt", "hypothesis", "importlinter", "grimp", "onnx", "onnxscript",
            "tkinter", "IPython", "matplotlib", "notebook", "jupyter", "scipy", "pandas", "sympy",
            "torch.utils.tensorboard", "tensorboard", "triton", "nvidia", "hf_xet", "timm",
            "PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets", "PySide6.Qt3DCore", "PySide6.QtQuick",
            "PySide6.QtQml", "PySide6.QtMultimedia", "PySide6.QtPdf", "PySide6.QtCharts"]

#: file name patterns dropped from the collected binaries and data (headers, static libraries,
#: CUDA, PyTorch's C++ test programs and test libraries, the Qt pieces the studio never loads)
DROP = ["*/include/*", "*.a", "*.lib", "*/cmake/*", "*libcuda*", "*libcudnn*", "*libcublas*", "*libnccl*",
        "*libnvrtc*", "*/tests/*", "*/torch/test/*", "*/torch/bin/*Test", "*/torch/bin/test_*",
        "*/torch/bin/protoc*", "*/torch/bin/*.ptl", "*libtorchbind_test*", "*libaoti_custom_ops*",
        "*libbackend_with_compiler*", "*/Qt/translations/*", "*/Qt/qml/*",
        "*libQt6WebEngine*", "*libQt6Quick*", "*libQt6Qml*", "*libQt6Pdf*", "*libQt6Designer*", "*libQt6Charts*",
        "*libQt63D*", "*libQt6Multimedia*", "*libQt6VirtualKeyboard*"]
