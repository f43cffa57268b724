"""What both front ends do: the application layer under the window (``studio.ui``) and the command line.

Qt-free and tested without Qt; each module is one job an artist does, built from the packages below:

* ``models``        - opening a network file or URL, and ``find_model(recipe)``: the one rule for
  finding the model an image was made with.
* ``mixing``        - style-mix matrices (forms x styles) and their sheets.
* ``interpolation`` - strips and videos through seeds and favourites.
* ``evolution``     - setting up an evolution the same way everywhere.
* ``export``        - print previews and batches re-rendered from their recipes.
* ``prepare``       - previewing and preparing a training set.
* ``runs``          - training runs: new, list, read, resume, stop, launch.
* ``edits``         - latent directions found, saved and turned into recipe edits.
* ``projection``    - finding the latent of a picture.
* ``blending``      - blending two models layer by layer, previewed and saved with their provenance.
* ``panorama``      - several latents on one canvas: region maps from layouts or painted masks.
* ``state``         - the window's state objects (page of seeds, mix sources, evolution choices,
  the CLIP chosen), which announce their changes and import neither torch nor Qt.

The window imports ``state`` (and ``runs``) at start-up; everything else is imported by its jobs
on the inference thread, after torch has loaded there.
"""
