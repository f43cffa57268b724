"""Pictures after the network: post-processing, sizes, files, animations and sheets (no torch).

* ``postprocess`` - levels, saturation, gamma, aspect (stretch / crop / pad), resize, sharpen.
* ``sizes``       - aspect presets, "like a painting", print sizes in cm / in at a DPI.
* ``upscale``     - the artist's ONNX super-resolution model, run by ONNX Runtime.
* ``codecs``      - the encoders (16-bit PNG and TIFF of their own) and an exact reader.
* ``metadata``    - the recipe inside PNG / TIFF / JPEG / WebP: one reader, one writer; ``save_png``.
* ``export``      - one print (post-process, encode, write atomically, never overwrite by
  accident) and batches, with one file-naming vocabulary.
* ``video``       - MP4, GIF and PNG frames, streamed.
* ``sheets``      - image grids and labelled contact sheets.
"""
