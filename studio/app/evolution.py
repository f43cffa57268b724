"""Evolution sessions: MAGnet's genetic algorithm set up the same way for the window and ``studio evolve``.

:func:`new_evolution` checks the prompt and the realness weight, builds CLIP's fitness with the
model's class and discriminator, and returns the :class:`~studio.evolve.ga.Evolution` with the
caller's render settings (truncation, cutoff, class, noise), so a seed evolved in the window and
on the command line gives the same images. :func:`generation_payload` is what a front end shows
of a generation.
"""

from __future__ import annotations

from typing import Any

from studio.core.errors import StudioError
from studio.evolve.fitness import ClipFitness
from studio.evolve.ga import Evolution, EvolveConfig, Generation
from studio.gan.latents import one_hot
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings


class EvolutionSetupError(StudioError):
    """An evolution cannot start as asked; the message says what to change."""


def new_evolution(renderer: Renderer, scorer: Any, prompt: str, negative: str | None, config: EvolveConfig,
                  settings: RenderSettings) -> Evolution:
    """An evolution of ``renderer``'s model toward ``prompt`` (minus ``negative``), scored by ``scorer``.

    ``settings`` carries the truncation, class and noise every individual is rendered with; the
    realness term needs the model's discriminator.
    """
    prompt = prompt.strip()
    if not prompt:
        raise EvolutionSetupError('the prompt is empty: say what to evolve towards, e.g. "an abstract painting '
                                  'with orange triangles"')
    negative = (negative or "").strip() or None
    network = renderer.network
    D = network.D if config.realness_weight else None
    if config.realness_weight and D is None:
        raise EvolutionSetupError(
            f"realness needs the model's discriminator, and {network.path.name} has none (rosinality checkpoints "
            "and files converted with --no-discriminator hold only the generator); set its weight to 0")
    labels = one_hot(settings.class_index, renderer.G.c_dim) if renderer.G.c_dim else None
    fitness = ClipFitness(scorer, prompt, negative, config.negative_weight, D, config.realness_weight, labels)
    return Evolution(renderer, fitness, config, settings=settings)


def generation_payload(evolution: Evolution, generation: Generation) -> dict[str, Any]:
    """Plain facts about a generation for a front end (no tensors)."""
    return {
        "index": generation.index, "uid": generation.uid, "ids": generation.ids,
        "scores": [float(s) if s is not None else None for s in generation.scores],
        "parts": [dict(ind.parts) for ind in generation.individuals],
        "origins": [ind.origin for ind in generation.individuals],
        "parents_used": list(generation.parents_used), "locked": list(evolution.locked),
        "suggested": evolution.suggest_parents(generation),
        "lineage": [{"index": g.index, "uid": g.uid, "best": g.best.id,
                     "score": float(g.best.score) if g.best.score is not None else None}
                    for g in evolution.history],
        # every generation of every branch, in the order they were made (a tree through bred_from)
        "tree": [{"index": g.index, "uid": g.uid, "bred_from": g.bred_from, "best": g.best.id,
                  "score": float(g.best.score) if g.best.score is not None else None,
                  "active": g.uid in {h.uid for h in evolution.history}}
                 for g in evolution.all_generations],
        "timings": dict(evolution.timings),
        "settings": {"truncation_psi": evolution.settings.truncation_psi,
                     "truncation_cutoff": evolution.settings.truncation_cutoff,
                     "class_index": evolution.settings.class_index, "noise_mode": evolution.settings.noise_mode},
    }
