"""CLIP: which one to use, loading it safely and offline, scoring, its vocabulary, ranking.

* ``model``      - :class:`ClipSpec` (``default``, ``NAME:TAG``, a checkpoint) and ``load_clip``.
* ``scorer``     - :class:`ClipScorer`: encodes images and prompts, scores one against the other.
* ``vocabulary`` - the words a CLIP knows, prompt ideas, and which class a prompt names.
* ``rank``       - GANscapes' "generate many, keep the best".
"""
