"""MAGnet's genetic algorithm: evolving latents toward a prompt.

* ``ga``      - :class:`Evolution` (populations, crossover, mutation, lineage and branches) and
  :class:`EvolveConfig`.
* ``fitness`` - :class:`ClipFitness`: CLIP's similarity to a prompt, minus a negative prompt,
  plus the discriminator's realness. It takes any scorer, so this package imports no CLIP.
"""
