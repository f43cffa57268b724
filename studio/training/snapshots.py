"""Training snapshots: one native ``.safetensors`` network file that also resumes a run.

A snapshot is an ordinary studio network file (``G_ema.*`` renders, ``D.*`` is the
discriminator), so Explore and ``load_network`` open it like any model. For resuming it also
carries, under prefixes of their own:

* ``G.*``          the training generator (G_ema is its moving average)
* ``optG.*``, ``optD.*``  Adam state per parameter name (``optG.<param>.exp_avg`` ...)
* ``aug.*``        tensors of the augmentation pipe / ADA controller state
* ``loss.*``       the loss object's state (StyleGAN2's path-length mean)
* ``Dclip.*``, ``optDc.*``  the CLIP discriminator's head and its Adam state, when the run has one

and in its ``training_state`` metadata (JSON) the counters: ``kimg``, ``nimg``, ``step``,
``tick``, ``p``, the ADA controller's plain values and the run's options.
:func:`is_training_snapshot` tells such a file from a network file that only renders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import torch


def is_training_snapshot(path: str | Path) -> bool:
    """True for a studio file written by the trainer (it carries G, optimiser state, counters)."""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            keys = list(f.keys())
    except Exception:  # noqa: BLE001 - any unreadable file is simply not a snapshot
        return False
    state = json.loads(meta.get("training_state") or "{}")
    return "nimg" in state and any(k.startswith("G.") for k in keys)


def optimizer_tensors(opt: torch.optim.Optimizer, module: torch.nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    """Adam's per-parameter state as flat named tensors ``PREFIX.<param name>.<key>``.

    With beta1 = 0 (StyleGAN2's Adam) the first moment is just the last gradient, overwritten by the
    next step before it is used, so it is left out: snapshots are a third smaller and resume the same.
    """
    out = {}
    groups = {id(p): g for g in opt.param_groups for p in g["params"]}
    for name, param in module.named_parameters():
        group = groups.get(id(param), {})
        first_moment_unused = group.get("betas", (None,))[0] == 0
        for key, value in opt.state.get(param, {}).items():
            if key == "exp_avg" and first_moment_unused:
                continue
            t = value if isinstance(value, torch.Tensor) else torch.tensor(float(value))
            out[f"{prefix}.{name}.{key}"] = t.detach().to("cpu").clone()
    return out


def load_optimizer_tensors(opt: torch.optim.Optimizer, module: torch.nn.Module, prefix: str,
                           tensors: Mapping[str, torch.Tensor]) -> int:
    """Restore what :func:`optimizer_tensors` wrote; returns the number of parameters restored."""
    restored = 0
    for name, param in module.named_parameters():
        state = {}
        head = f"{prefix}.{name}."
        for key in ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            t = tensors.get(head + key)
            if t is not None:
                state[key] = t.to(torch.float32) if key == "step" else t.to(param.device, param.dtype).clone()
        if state:
            if "exp_avg_sq" in state and "exp_avg" not in state:   # left out with beta1 = 0 (see above)
                state["exp_avg"] = torch.zeros_like(param)
            opt.state[param] = state
            restored += 1
    return restored


def split_state(state: Mapping[str, Any], prefix: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(JSON-safe values, tensors as ``PREFIX.<key>``) from a ``state_dict``-like mapping."""
    plain, tensors = {}, {}
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            tensors[f"{prefix}.{key}"] = value.detach().to("cpu").clone()
        elif isinstance(value, (int, float, str, bool, type(None), list, dict)):
            plain[key] = value
        else:
            plain[key] = float(value)  # numpy scalars
    return plain, tensors


def join_state(plain: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, Any]:
    """Inverse of :func:`split_state`."""
    state = dict(plain)
    head = prefix + "."
    state.update({k[len(head):]: v for k, v in tensors.items() if k.startswith(head)})
    return state


__all__ = ["is_training_snapshot", "optimizer_tensors",
           "load_optimizer_tensors", "split_state", "join_state"]
