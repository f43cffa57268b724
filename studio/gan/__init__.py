"""The networks and what turns latents into pictures.

* ``networks/`` - the architectures in plain PyTorch (StyleGAN2, SWAGAN, StyleGAN3, DCGAN) and their ops
  (native canvases and seamless tiles are contexts there: ``ops.canvas``, ``ops.tiling``).
* ``formats/``  - network files in and out; ``load_network`` is the front door.
* ``seeds``, ``latents`` - seeds to z (as NVIDIA's tools draw them), truncation, lerp / slerp,
  style mixing of ws.
* ``render_settings`` - :class:`RenderSettings` (truncation, class, noise, view, edits, tile, canvas),
  plain data without torch.
* ``render``    - :class:`Renderer`: a loaded network on a device, from seeds, latents and
  recipes to uint8 images, batch by batch, cancellable; PyTorch or (``onnx_backend``) ONNX
  Runtime renders, float16 in the high resolutions on a GPU.
* ``recipe``    - :class:`Recipe`: everything that re-creates one image, as versioned JSON.
* ``interpolate`` - paths through latent space between keyframes.
* ``mixing``    - which w layers the style-mix presets mean for a network.
* ``directions``, ``project``, ``blend`` - latent directions, projection, layer-wise blends.
* ``region_maps`` (plain data), ``regions`` (torch) - the maps of a canvas shared by several
  latents, and their soft masks at every feature map's size.
"""
