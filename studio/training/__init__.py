"""Training: :func:`train` is the front door; ``python -m studio.training`` is the worker process.

How the package fits together, from the outside in:

* ``__main__``    - the worker the Train tab and ``studio train --gpus N`` start; JSON events on stdout.
* ``runs``        - the run-folder scheme (``RUNS/NNNNN-<data>-<preset>``; which is ``latest``).
* ``options``     - :class:`TrainingOptions` (``training_options.json``) and :class:`TrainingError`.
* ``trainer``     - :func:`train` and the :class:`Trainer`: data, fresh / resumed / transferred networks,
  optimisers, EMA, snapshots, metrics; one step walks the loss's phases.
* ``losses``      - the loss objects, one per training method: :class:`StyleGAN2Loss` (with its optional
  mode-seeking and CLIP-discriminator terms) and :class:`DcganLoss`.
* ``stylegan2``, ``dcgan`` - the two network families a trainer can train (networks, Adam, EMA, loss).
* ``augment``, ``clip_disc``, ``metrics``, ``snapshots``, ``distributed`` - the pieces they use: ADA and
  the discriminator blur, the CLIP discriminator's network, FD-CLIP / KID-CLIP, the snapshot file,
  the multi-process plumbing.
* ``default_model``, ``clip_train`` - how the bundled default generator and default CLIP are made.

The names below are imported on first use, so importing this package (as the worker and the window do
before they know whether torch is there) costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOMES = {
    "train": "trainer", "Trainer": "trainer", "TrainingResult": "trainer",
    "TrainingOptions": "options", "TrainingError": "options",
    "StyleGAN2Loss": "losses", "DcganLoss": "losses",
    "find_latest_snapshot": "runs", "is_training_snapshot": "snapshots",
}

if TYPE_CHECKING:
    from studio.training.losses import DcganLoss, StyleGAN2Loss
    from studio.training.options import TrainingError, TrainingOptions
    from studio.training.runs import find_latest_snapshot
    from studio.training.snapshots import is_training_snapshot
    from studio.training.trainer import Trainer, TrainingResult, train


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'studio.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"studio.training.{_HOMES[name]}"), name)
    globals()[name] = value
    return value


__all__ = ["train", "Trainer", "TrainingResult", "TrainingOptions", "TrainingError", "StyleGAN2Loss", "DcganLoss",
           "find_latest_snapshot", "is_training_snapshot"]
