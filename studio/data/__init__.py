"""Training data: reading a prepared dataset, preparing one from a folder, painting one procedurally.

* ``dataset``    - :class:`ImageFolderDataset`: NVIDIA's ``dataset_tool`` layout, labels included.
* ``prepare``    - a training set from any folder of pictures (crops, frames, CLIP filter); bad
  files are skipped and listed, the source is never touched.
* ``procedural`` - the abstract paintings in six families the default models learn from.
"""
