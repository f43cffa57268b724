"""The genetic algorithm of MAGnet, guided by CLIP (and optionally the discriminator).

MAGnet's loop, with its defaults (every one adjustable through :class:`EvolveConfig`):

1. an initial population of ``population`` (200) random latents is rendered and scored;
2. the best ``parents`` (4) are kept: A, B, C, D;
3. for every *ordered* pair ``(i, j)`` of the parents (16 pairs, ``i == j`` included)::

       offspring = (1 - r) * parent_i + r * parent_j + mutation * scale * noise

   with ``r = recombination`` (0.333), ``mutation`` 0.25 and ``noise ~ N(0, 1)`` drawn per
   dimension (see *Mutation* below for ``scale``);
4. the next population is the parents plus their offspring (4 + 16 = 20); steps 2-4 repeat
   for ``generations`` (5) generations.

Linear crossover keeps children between their parents, inside the space of paintings, where
single-point crossover would not.

Latent space
    ``space="w"`` (the default) evolves the intermediate latent W, every individual holding all
    layers ``[num_ws, w_dim]`` (broadcast from one w for the initial random population), so
    crossover stays on the image manifold and individuals brought in from the style-mixing
    panel (different w per layer) fit too. ``space="z"`` evolves z ``[z_dim]`` as MAGnet did;
    each render maps z through the mapping network with the evolution's truncation settings.
    Conditional models keep their class: it is applied by the mapping network (and so baked
    into every w).

Mutation
    In Z the noise is ``mutation * N(0, 1)`` per dimension, exactly MAGnet's: z itself is
    N(0, 1), so 0.25 is a quarter of z's natural spread. In W the same standard-normal noise is
    multiplied per dimension by the standard deviation of W (estimated once from
    :data:`W_STD_SAMPLES` mapped z of the fixed seed :data:`W_STD_SEED`, untruncated, with the
    evolution's class), so 0.25 again means a quarter of the latent's spread. One W noise vector
    ``[w_dim]`` is drawn per child and added to all its layers alike: a child of single-w parents
    stays a single w (independent noise per layer would act like random style mixing).

Scoring cost
    CLIP sees 224 px, so the population is rendered for scoring only up to the smallest of the
    generator's early-exit resolutions at or above ``score_resolution`` (default 256, and at
    least the fitness' ``input_size`` when it states one): a 1024 px model is scored from its
    256 px block, a quarter of the cost. ``score_resolution=None`` always renders in full.
    :attr:`Individual.image` is that scoring render; :meth:`Evolution.render_full` renders the
    full-resolution images of the few that are displayed large or written (the CLI writes the
    kept images that way). Parents carried into the next generation keep their score and image
    and are not rendered again, so a default run renders 200 + 5 x 16 = 280 images.

Determinism
    Everything random comes from ``config.seed``: the initial seeds (one z per seed, as in
    the seed grid) and the mutation noise of each bred generation (keyed by the seed and the
    generation's serial number in the session), so the same seed and the same parent choices
    give the same log. With ``noise_mode="random"`` every image uses the same per-pixel noise
    (``settings.noise_seed``, default 0), so a score depends on the latent alone.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch

from studio.core.errors import StudioError
from studio.evolve.fitness import FitnessFn, FitnessResult
from studio.gan import latents
from studio.gan.networks import ops
from studio.gan.recipe import Latent, Recipe
from studio.gan.render import Renderer, early_exit, to_uint8
from studio.gan.render_settings import RenderSettings

__all__ = [
    "SPACES",
    "W_STD_SAMPLES",
    "W_STD_SEED",
    "MAX_PARENTS",
    "LOG_VERSION",
    "EvolveConfig",
    "FitnessResult",
    "Individual",
    "Generation",
    "Evolution",
    "EvolutionCancelled",
    "crossover",
    "breed",
    "pair_indices",
]

#: Bounds that keep a typo from asking for days of rendering or gigabytes of latents.
MAX_POPULATION = 100_000
MAX_GENERATIONS = 10_000

#: Latent spaces the algorithm can evolve in.
SPACES = ("w", "z")

#: Mapped samples (and their fixed seed) behind the per-dimension std of W used by mutation.
W_STD_SAMPLES = 4096
W_STD_SEED = 0

#: Most parents one generation may breed from (they make ``parents**2`` children).
MAX_PARENTS = 16

#: Version of the JSON log written by :meth:`Evolution.to_log`.
LOG_VERSION = 1

ProgressFn = Callable[[int, int], None]          # (done, total) images
CancelFn = Callable[[], bool]
IndividualFn = Callable[["Individual"], None]


class EvolutionCancelled(StudioError):
    """``should_cancel`` said stop. The evolution is left as it was before the call."""

    def __init__(self, message: str = "evolution cancelled") -> None:
        super().__init__(message)


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


@dataclass
class EvolveConfig:
    """Every parameter of the genetic algorithm; the defaults are MAGnet's."""

    population: int = 200               # random individuals in the initial generation
    parents: int = 4                    # best individuals kept per generation (K; K*K children)
    recombination: float = 0.333        # r: child = (1 - r) * parent_i + r * parent_j + noise
    mutation: float = 0.25              # noise scale, in units of the latent's spread
    generations: int = 5                # bred generations after the initial one (for run())
    space: str = "w"                    # 'w' (all layers) or 'z' (MAGnet's)
    seed: int = 0                       # drives the initial seeds and all mutation noise
    negative_weight: float = 1.0        # weight of the negative prompt (read by the fitness)
    realness_weight: float = 0.0        # weight of the discriminator's realness (the fitness)
    score_resolution: int | None = 256  # render for scoring up to this early exit; None = full
    preview_resolution: int | None = None  # the initial population first scored at this early exit ...
    rescore: int = 16                   # ... and its best this many scored again at score_resolution

    def __post_init__(self) -> None:
        def whole(name: str, low: int, high: int | None = None) -> None:
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise ValueError(f"evolution setting '{name}' must be a whole number, got {value!r}")
            if value < low or (high is not None and value > high):
                upper = f" to {high}" if high is not None else " or more"
                raise ValueError(f"evolution setting '{name}' must be {low}{upper}, got {value}")
            setattr(self, name, int(value))

        def number(name: str, low: float | None = None, high: float | None = None) -> None:
            value = getattr(self, name)
            if not isinstance(value, (int, float, np.floating)) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"evolution setting '{name}' must be a finite number, got {value!r}")
            if (low is not None and value < low) or (high is not None and value > high):
                span = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
                raise ValueError(f"evolution setting '{name}' must be {span}, got {value:g}")
            setattr(self, name, float(value))

        whole("population", 1, MAX_POPULATION)
        whole("parents", 1, MAX_PARENTS)
        whole("generations", 0, MAX_GENERATIONS)
        whole("seed", 0, latents.MAX_SEED)
        number("recombination", 0.0, 1.0)
        number("mutation", 0.0)
        number("negative_weight")
        number("realness_weight")
        if self.parents > self.population:
            raise ValueError(f"cannot keep {self.parents} parents from a population of {self.population}")
        if self.space not in SPACES:
            raise ValueError(f"latent space must be 'w' or 'z', got {self.space!r}")
        if self.score_resolution is not None:
            whole("score_resolution", 1)
        if self.preview_resolution is not None:
            whole("preview_resolution", 1)
        whole("rescore", 1, MAX_POPULATION)

    @property
    def generation_size(self) -> int:
        """Individuals per bred generation with the default parents: K + K*K (20 for K = 4)."""
        return self.parents + self.parents ** 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvolveConfig:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown evolution settings: {sorted(unknown)}")
        return cls(**dict(data))


# ---------------------------------------------------------------------------------------------
# Operators (pure functions; the exact formulas the tests check)
# ---------------------------------------------------------------------------------------------


def pair_indices(k: int) -> list[tuple[int, int]]:
    """Every ordered pair ``(i, j)`` of ``k`` parents, ``i == j`` included, row-major:
    (0, 0), (0, 1), ..., (k-1, k-1). Child ``n`` of :func:`breed` comes from pair ``n``."""
    return [(i, j) for i in range(k) for j in range(k)]


def crossover(a: np.ndarray, b: np.ndarray, r: float) -> np.ndarray:
    """Linear crossover ``(1 - r) * a + r * b`` (``r = 0`` gives ``a``, ``r = 1`` gives ``b``)."""
    return (1.0 - r) * a + r * b


def breed(
    parents: np.ndarray,
    recombination: float,
    mutation: float,
    noise: np.ndarray,
    scale: np.ndarray | float = 1.0,
) -> np.ndarray:
    """The offspring of every ordered pair of ``parents``.

    ``parents`` is ``[K, *shape]``; ``noise`` is ``[K*K, *noise_shape]`` standard-normal
    draws where ``noise_shape`` is ``shape`` or a suffix of it (a W noise ``[w_dim]`` is
    added to every layer of ``[num_ws, w_dim]``); ``scale`` broadcasts against the noise.
    Returns ``[K*K, *shape]`` float32 with child ``n`` (pair ``(i, j) = pair_indices(K)[n]``)::

        (1 - recombination) * parents[i] + recombination * parents[j] + mutation * scale * noise[n]
    """
    parents = np.asarray(parents, dtype=np.float64)
    k = parents.shape[0]
    noise = np.asarray(noise, dtype=np.float64)
    if noise.shape[0] != k * k:
        raise ValueError(f"{k} parents make {k * k} children, but noise for {noise.shape[0]} was given")
    pairs = pair_indices(k)
    first = parents[[i for i, _ in pairs]]
    second = parents[[j for _, j in pairs]]
    extra = parents.ndim - noise.ndim
    if extra < 0 or noise.shape[1:] != parents.shape[1 + extra:]:
        raise ValueError(f"noise of shape {list(noise.shape[1:])} does not fit latents of shape {list(parents.shape[1:])}")
    step = mutation * np.asarray(scale, dtype=np.float64) * noise
    step = step.reshape(step.shape[:1] + (1,) * extra + step.shape[1:])
    return (crossover(first, second, recombination) + step).astype(np.float32)



# ---------------------------------------------------------------------------------------------
# Individuals and generations
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Individual:
    """One member of a population.

    ``latent`` is float32 ``z [z_dim]`` (Z space) or ``w [num_ws, w_dim]`` (W space).
    ``parents`` are the ids of the pair it was bred from (None for random and brought-in
    individuals). ``image`` is the uint8 ``[H, W, C]`` render it was scored on (at the
    evolution's score resolution). ``origin`` is 'random', 'offspring' or 'extra'.
    """

    id: int
    latent: np.ndarray
    score: float | None = None
    parts: dict[str, float] = field(default_factory=dict)
    parents: tuple[int, int] | None = None
    generation: int = 0
    image: np.ndarray | None = None
    seed: int | None = None
    origin: str = "random"

    def to_log(self) -> dict[str, Any]:
        return {
            "id": self.id, "score": _json_float(self.score), "parts": {k: _json_float(v) for k, v in self.parts.items()},
            "parents": list(self.parents) if self.parents is not None else None,
            "generation": self.generation, "origin": self.origin, "seed": self.seed,
        }


def _json_float(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


@dataclass(eq=False)
class Generation:
    """One generation of the active line.

    ``individuals`` are sorted by score, best first. ``parents_used`` are the ids it was bred
    from (empty for the initial one), ``locked`` the ids locked at the time. ``uid`` numbers
    every generation of the session (branches included); ``bred_from`` is the uid of the
    generation it was bred from.
    """

    index: int
    individuals: list[Individual]
    parents_used: list[int] = field(default_factory=list)
    locked: list[int] = field(default_factory=list)
    uid: int = 0
    bred_from: int | None = None

    def __len__(self) -> int:
        return len(self.individuals)

    def __iter__(self):
        return iter(self.individuals)

    @property
    def ids(self) -> list[int]:
        return [ind.id for ind in self.individuals]

    @property
    def scores(self) -> list[float]:
        return [ind.score for ind in self.individuals]

    @property
    def best(self) -> Individual:
        return self.individuals[0]

    def top(self, k: int) -> list[Individual]:
        return self.individuals[:k]


def _offset(progress: ProgressFn | None, before: int, total: int) -> ProgressFn | None:
    """``progress`` of one pass of several: (done in this pass, its size) -> (done so far, the total)."""
    if progress is None:
        return None
    return lambda done, _count: progress(before + done, total)


def _rank(individuals: Iterable[Individual]) -> list[Individual]:
    """Best score first; ties (and equal scores) by id, so the order is reproducible."""
    return sorted(individuals, key=lambda ind: (-(ind.score if ind.score is not None else -math.inf), ind.id))


# ---------------------------------------------------------------------------------------------
# The evolution
# ---------------------------------------------------------------------------------------------


class Evolution:
    """A stateful run of the genetic algorithm, driven step by step (GUI) or all at once (CLI).

    ``start()`` renders and scores the initial population; ``next_generation()`` breeds from
    the artist's choice (default: :meth:`suggest_parents`); ``branch()`` goes back to an earlier
    generation. ``history`` is the active line of generations; every generation ever made stays
    in :attr:`all_generations` and in :meth:`to_log`. Not thread-safe: one caller at a time.

    ``fitness`` receives float images ``[N, 3, H, W]`` in [-1, 1] at the score resolution and
    returns a :class:`FitnessResult` (or just the totals); higher is better. Images are
    rendered ``renderer.batch_size`` at a time and scored ``score_batch`` (16) at a time, so
    ``on_individual`` and ``progress`` fire once per scored batch; ``should_cancel`` is asked
    before every rendered batch.
    ``timings`` accumulates seconds per phase: mapping, synthesis, scoring, breeding, full_render.
    """

    def __init__(
        self,
        renderer: Renderer,
        fitness: FitnessFn,
        config: EvolveConfig | None = None,
        *,
        class_index: int | None = None,
        settings: RenderSettings | None = None,
        score_batch: int = 16,
        overlap: bool = False,
    ):
        if score_batch < 1:
            raise ValueError(f"score_batch must be at least 1, got {score_batch}")
        self.renderer = renderer
        self.fitness = fitness
        self.score_batch = int(score_batch)
        self.overlap = overlap
        self.config = config or EvolveConfig()
        settings = settings or RenderSettings()
        if class_index is not None:
            settings = replace(settings, class_index=class_index)
        G = renderer.G
        if G.c_dim == 0:
            settings = replace(settings, class_index=None)
        elif settings.class_index is None:
            raise ValueError(f"this model is conditional: choose a class 0-{G.c_dim - 1}")
        elif not 0 <= settings.class_index < G.c_dim:
            raise ValueError(f"class {settings.class_index} is outside 0-{G.c_dim - 1} for this model")
        renderer.check_canvas(settings)
        self.settings = settings
        self.noise_seed = settings.noise_seed if settings.noise_seed is not None else 0
        self.history: list[Generation] = []
        self.all_generations: list[Generation] = []
        self.locked: list[int] = []
        self.timings: dict[str, float] = defaultdict(float)
        self._individuals: dict[int, Individual] = {}
        self._next_id = 0
        self._w_std: np.ndarray | None = None

    # -- facts ----------------------------------------------------------------------------------
    @property
    def G(self):
        return self.renderer.G

    @property
    def space(self) -> str:
        return self.config.space

    @property
    def batch_size(self) -> int:
        # Images come back per scoring batch anyway, so render in batches of at least 8: the
        # renderer's interactive default (4 on CPUs) streams finer but is ~4% slower per image.
        return max(self.renderer.batch_size, 8)

    @property
    def current(self) -> Generation | None:
        """The last generation of the active line (None before :meth:`start`)."""
        return self.history[-1] if self.history else None

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.G.z_dim,) if self.space == "z" else (self.G.num_ws, self.G.w_dim)

    @property
    def preview_resolution(self) -> int | None:
        """The early exit the initial population is first scored at, or None (it is scored in full):
        the smallest at or above ``config.preview_resolution`` and below the score resolution."""
        want = self.config.preview_resolution
        return None if want is None else early_exit(self.G, want, self.score_resolution)

    @property
    def score_resolution(self) -> int:
        """The resolution the population is rendered at for scoring (see the module docs)."""
        full = int(self.G.img_resolution)
        want = self.config.score_resolution
        if want is None:
            return full
        want = max(want, int(getattr(self.fitness, "input_size", None) or 0))
        previews = getattr(self.G.synthesis, "preview_resolutions", None)
        options = [r for r in (previews() if previews else [full]) if want <= r <= full]
        return min(options) if options else full

    def individual(self, ident: int) -> Individual:
        """Any individual of this session by id (branched-off ones included)."""
        try:
            return self._individuals[int(ident)]
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"there is no individual {ident!r} in this evolution") from None

    def planned_images(self, generations: int | None = None) -> int:
        """Images :meth:`run` renders for scoring with the default parents: P + G * K*K."""
        gens = self.config.generations if generations is None else generations
        return self.config.population + gens * self.config.parents ** 2

    def w_std(self) -> np.ndarray:
        """Per-dimension standard deviation of W ``[w_dim]`` (untruncated, this class),
        estimated once from :data:`W_STD_SAMPLES` z of seed :data:`W_STD_SEED`."""
        if self._w_std is None:
            z = np.random.RandomState(W_STD_SEED).randn(W_STD_SAMPLES, self.G.z_dim).astype(np.float32)
            plain = replace(self.settings, truncation_psi=1.0, truncation_cutoff=None)
            start = time.perf_counter()
            chunks = [self.renderer.ws_from_z(z[i:i + 1024], plain)[:, 0].double().cpu()
                      for i in range(0, len(z), 1024)]
            self.timings["mapping"] += time.perf_counter() - start
            self._w_std = torch.cat(chunks).std(dim=0).numpy().astype(np.float32)
        return self._w_std

    def mutation_scale(self) -> np.ndarray | float:
        """What multiplies ``mutation * N(0, 1)``: 1 in Z, the std of W per dimension in W."""
        return 1.0 if self.space == "z" else self.w_std()

    # -- the algorithm --------------------------------------------------------------------------
    def start(
        self,
        *,
        progress: ProgressFn | None = None,
        should_cancel: CancelFn | None = None,
        on_individual: IndividualFn | None = None,
    ) -> Generation:
        """Render and score the initial random population: generation 0 of a new line.

        Calling it again starts over (earlier generations stay in the log)."""
        cfg = self.config
        seeds = self._initial_seeds()
        zs = latents.zs_from_seeds(seeds, self.G.z_dim).astype(np.float32)
        if self.space == "z":
            lat = list(zs)
        else:
            start = time.perf_counter()
            ws = torch.cat([self.renderer.ws_from_z(zs[i:i + 1024], self.settings).cpu()
                            for i in range(0, len(zs), 1024)])
            self.timings["mapping"] += time.perf_counter() - start
            lat = list(ws.numpy().astype(np.float32))
        first = self._next_id
        pop = [Individual(first + k, np.ascontiguousarray(lat[k]), generation=0, seed=int(seeds[k]), origin="random")
               for k in range(cfg.population)]
        preview = self.preview_resolution
        if preview is None:
            self._evaluate(pop, progress, should_cancel, on_individual)
            ranked = _rank(pop)
        else:
            # the population from the early exit, then its best again at the score resolution: they
            # lead the ranking by their new scores, the rest follow by their preview scores
            best_count = min(cfg.rescore, len(pop))
            total = len(pop) + best_count
            self._evaluate(pop, _offset(progress, 0, total), should_cancel, None, resolution=preview)
            best = _rank(pop)[:best_count]
            self._evaluate(best, _offset(progress, len(pop), total), should_cancel, None)
            again = {ind.id for ind in best}
            ranked = _rank(best) + [ind for ind in _rank(pop) if ind.id not in again]
            if on_individual is not None:
                for ind in pop:
                    on_individual(ind)
        self._next_id += len(pop)
        gen = Generation(0, ranked, [], list(self.locked), uid=len(self.all_generations), bred_from=None)
        self._commit(gen, pop, [gen])
        return gen

    def suggest_parents(self, generation: Generation | None = None, k: int | None = None) -> list[int]:
        """CLIP's choice: the ids of the best ``k`` (default ``config.parents``) by score."""
        generation = generation or self._need_current()
        return [ind.id for ind in generation.top(self.config.parents if k is None else k)]

    def parent_set(
        self,
        parents: Sequence[int] | None = None,
        locked: Sequence[int] | None = None,
    ) -> list[int]:
        """The ids :meth:`next_generation` would breed from (before extra parents): the chosen
        ids (default: the suggestion) followed by the locked ones, without repeats."""
        chosen = list(parents) if parents is not None else self.suggest_parents()
        locked = list(self.locked if locked is None else locked)
        ids = list(dict.fromkeys(int(i) for i in chosen + locked))
        for ident in ids:
            self.individual(ident)
        return ids

    def next_generation(
        self,
        parents: Sequence[int] | None = None,
        *,
        locked: Sequence[int] | None = None,
        extra_parents: Sequence[Any] = (),
        progress: ProgressFn | None = None,
        should_cancel: CancelFn | None = None,
        on_individual: IndividualFn | None = None,
    ) -> Generation:
        """Breed the next generation from the artist's choice and score it.

        ``parents``: ids of the chosen parents (any individual of the session; default: the
        suggestion for the current generation). ``locked``: when given, replaces the locked set;
        locked ids join the parents of this and every following generation until unlocked.
        ``extra_parents``: favourites or images from other panels, each an :class:`Individual`,
        a :class:`~studio.gan.recipe.Latent` (seed, z or w), a
        :class:`~studio.gan.recipe.Recipe`, or an array in this evolution's space (z
        ``[z_dim]``; w ``[w_dim]`` or ``[num_ws, w_dim]``); they are rendered and scored as
        members of the new generation. With K parents in all the generation holds the K parents
        and their K*K children. ``on_individual`` is called for each newly scored individual
        (the carried-over parents are already known). Cancelling leaves everything unchanged.
        """
        current = self._need_current()
        ids = self.parent_set(parents, locked)
        parent_inds = [self._individuals[i] for i in ids]
        next_id = self._next_id
        extras: list[Individual] = []
        for item in extra_parents:
            ind, next_id = self._as_parent(item, next_id, current.index + 1)
            if ind.id not in ids and all(ind.id != e.id for e in extras):
                extras.append(ind)
        everyone = parent_inds + extras
        if not everyone:
            raise ValueError("choose at least one parent to breed the next generation from")
        if len(everyone) > MAX_PARENTS:
            raise ValueError(f"{len(everyone)} parents would make {len(everyone) ** 2} children; "
                             f"choose at most {MAX_PARENTS}")
        uid = len(self.all_generations)
        scale = self.mutation_scale()   # (timed as mapping the first time)
        start = time.perf_counter()
        rng = np.random.default_rng([self.config.seed, 1, uid])
        k = len(everyone)
        noise_shape = (self.G.z_dim,) if self.space == "z" else (self.G.w_dim,)
        noise = rng.standard_normal((k * k,) + noise_shape)
        children_lat = breed(np.stack([ind.latent for ind in everyone]), self.config.recombination,
                             self.config.mutation, noise, scale)
        children = [
            Individual(next_id + n, np.ascontiguousarray(children_lat[n]), parents=(everyone[i].id, everyone[j].id),
                       generation=current.index + 1, origin="offspring")
            for n, (i, j) in enumerate(pair_indices(k))
        ]
        self.timings["breeding"] += time.perf_counter() - start
        fresh = [e for e in extras if e.score is None] + children
        self._evaluate(fresh, progress, should_cancel, on_individual)
        self._next_id = next_id + len(children)
        locked_now = list(self.locked) if locked is None else list(dict.fromkeys(int(x) for x in locked))
        gen = Generation(current.index + 1, _rank(everyone + children), [ind.id for ind in everyone],
                         locked_now, uid=uid, bred_from=current.uid)
        self.locked = locked_now
        self._commit(gen, fresh + extras, self.history + [gen])
        return gen

    def lock(self, ident: int) -> None:
        """Carry individual ``ident`` into every following generation's parents."""
        self.individual(ident)
        if int(ident) not in self.locked:
            self.locked.append(int(ident))

    def unlock(self, ident: int) -> None:
        self.locked = [i for i in self.locked if i != int(ident)]

    def branch(self, index: int) -> Generation:
        """Make generation ``index`` of the active line the current one again (undo), to breed
        from it anew. Later generations leave the active line but stay in the log; the locked
        set is kept as it is."""
        if not 0 <= index < len(self.history):
            raise ValueError(f"there is no generation {index} to go back to (0-{len(self.history) - 1})")
        self.history = self.history[:index + 1]
        return self.history[-1]

    def switch_to(self, uid: int) -> Generation:
        """Make generation ``uid`` (of any branch) the current one: the active line becomes the path
        from the first generation to it. Nothing is discarded; the other branches stay as they were."""
        by_uid = {g.uid: g for g in self.all_generations}
        if uid not in by_uid:
            raise ValueError(f"there is no generation #{uid} in this evolution")
        line = []
        gen: Generation | None = by_uid[uid]
        while gen is not None:
            line.append(gen)
            gen = by_uid.get(gen.bred_from) if gen.bred_from is not None else None
        self.history = line[::-1]
        return self.history[-1]

    def run(
        self,
        generations: int | None = None,
        *,
        progress: ProgressFn | None = None,
        should_cancel: CancelFn | None = None,
        on_individual: IndividualFn | None = None,
        on_generation: Callable[[Generation], None] | None = None,
    ) -> list[Generation]:
        """Start (unless started) and breed ``generations`` (default ``config.generations``)
        generations from the suggested (and locked) parents. ``progress(done, total)`` counts
        the images rendered for scoring across the whole run. Returns the active line."""
        gens = self.config.generations if generations is None else generations
        total = (0 if self.history else self.config.population) + gens * self.config.parents ** 2
        done = 0

        def step(d: int, _t: int) -> None:
            if progress is not None:
                progress(done + d, max(total, done + d))

        if not self.history:
            gen = self.start(progress=step, should_cancel=should_cancel, on_individual=on_individual)
            done += len(gen)
            if on_generation is not None:
                on_generation(gen)
        for _ in range(gens):
            before = self._next_id
            gen = self.next_generation(progress=step, should_cancel=should_cancel, on_individual=on_individual)
            done += self._next_id - before
            if on_generation is not None:
                on_generation(gen)
        return self.history

    # -- images and recipes ---------------------------------------------------------------------
    def choices(self) -> tuple[list[Individual], list[Individual]]:
        """(kept, passed over): the individuals each generation of the line was bred from, and the
        others of the generations they were chosen in (what the artist, or CLIP, let go)."""
        kept, passed = [], []
        for before, after in zip(self.history, self.history[1:]):
            chosen = set(after.parents_used)
            for ind in before.individuals:
                (kept if ind.id in chosen else passed).append(ind)
        return kept, passed

    def ws_of(self, individuals: Sequence[Individual]) -> torch.Tensor:
        """The ws ``[N, num_ws, w_dim]`` the individuals are rendered from."""
        lat = np.stack([ind.latent for ind in individuals]).astype(np.float32)
        if self.space == "w":
            return torch.from_numpy(lat).to(self.renderer.device)
        start = time.perf_counter()
        ws = self.renderer.ws_from_z(lat, self.settings)
        self.timings["mapping"] += time.perf_counter() - start
        return ws

    def render_full(
        self,
        individuals: Sequence[Individual],
        *,
        progress: ProgressFn | None = None,
        should_cancel: CancelFn | None = None,
    ) -> list[np.ndarray]:
        """Full-resolution uint8 images ``[H, W, C]`` of the individuals (their scoring render
        when that already is full resolution; nothing is stored)."""
        full = int(self.G.img_resolution)
        out: list[np.ndarray | None] = [ind.image if ind.image is not None and ind.image.shape[0] == full else None
                                        for ind in individuals]
        todo = [i for i, image in enumerate(out) if image is None]
        for start in range(0, len(todo), self.batch_size):
            if should_cancel is not None and should_cancel():
                raise EvolutionCancelled()
            chunk = todo[start:start + self.batch_size]
            ws = self.ws_of([individuals[i] for i in chunk])
            t = time.perf_counter()
            images = to_uint8(self._synthesize(ws, full))
            self.timings["full_render"] += time.perf_counter() - t
            for i, image in zip(chunk, images):
                out[i] = image
            if progress is not None:
                progress(start + len(chunk), len(todo))
        return out  # type: ignore[return-value]

    def recipe_for(self, individual: Individual) -> Recipe:
        """The recipe that re-creates ``individual`` at full resolution: its explicit w
        ``[num_ws, w_dim]`` (float32), the class kept, truncation psi 1 (w is explicit)."""
        w = self.ws_of([individual])[0].detach().cpu().numpy().astype(np.float32)
        s = self.settings
        return Recipe(
            model=self.renderer.model_ref, w=w, class_index=s.class_index, truncation_psi=1.0,
            truncation_cutoff=None, noise_mode=s.noise_mode,
            noise_seed=self.noise_seed if s.noise_mode == "random" else None,
            translate=tuple(s.translate), rotate=s.rotate, tile=s.tile, canvas=list(s.canvas) if s.canvas else None,
        )

    # -- the log --------------------------------------------------------------------------------
    def to_log(self) -> dict[str, Any]:
        """A JSON-able record: config, model, settings, and every generation of the session
        (``active`` marks the current line) with ids, scores, parts, parents and locks."""
        active = {g.uid for g in self.history}
        s = self.settings
        best = max((ind for g in self.history for ind in g.individuals),
                   key=lambda ind: (ind.score if ind.score is not None else -math.inf, -ind.id), default=None)
        fitness_info = getattr(self.fitness, "info", None)
        return {
            "studio_evolution": LOG_VERSION,
            "model": self.renderer.model_ref.to_dict(),
            "config": self.config.to_dict(),
            "settings": {"class_index": s.class_index, "truncation_psi": s.truncation_psi,
                         "truncation_cutoff": s.truncation_cutoff, "noise_mode": s.noise_mode,
                         "noise_seed": self.noise_seed if s.noise_mode == "random" else None,
                         "translate": list(s.translate), "rotate": s.rotate, "tile": s.tile,
                         "canvas": list(s.canvas) if s.canvas else None},
            "score_resolution": self.score_resolution,
            "fitness": dict(fitness_info) if isinstance(fitness_info, Mapping) else None,
            "active_line": [g.uid for g in self.history],
            "locked": list(self.locked),
            "best": None if best is None else {"id": best.id, "score": _json_float(best.score),
                                               "generation": best.generation},
            "generations": [
                {
                    "uid": g.uid, "index": g.index, "bred_from": g.bred_from, "active": g.uid in active,
                    "parents": list(g.parents_used), "locked": list(g.locked),
                    "suggested": self.suggest_parents(g),
                    "individuals": [ind.to_log() for ind in g.individuals],
                }
                for g in self.all_generations
            ],
        }

    # -- internals ------------------------------------------------------------------------------
    def _need_current(self) -> Generation:
        if not self.history:
            raise ValueError("the evolution has not started: call start() first")
        return self.history[-1]

    def _initial_seeds(self) -> list[int]:
        """``population`` distinct seeds drawn from ``config.seed`` (the same for a given seed)."""
        rng = np.random.default_rng([self.config.seed, 0])
        seeds: list[int] = []
        seen: set[int] = set()
        while len(seeds) < self.config.population:
            for s in rng.integers(0, latents.MAX_SEED + 1, self.config.population, dtype=np.int64):
                if int(s) not in seen and len(seeds) < self.config.population:
                    seen.add(int(s))
                    seeds.append(int(s))
        return seeds

    def _commit(self, gen: Generation, new: Iterable[Individual], line: list[Generation]) -> None:
        for ind in new:
            self._individuals[ind.id] = ind
        self.all_generations.append(gen)
        self.history = line

    def _as_parent(self, item: Any, next_id: int, generation: int) -> tuple[Individual, int]:
        """An extra parent as an Individual of this evolution (new ones get the next id)."""
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            return self.individual(int(item)), next_id
        if isinstance(item, Individual):
            if self._individuals.get(item.id) is item:
                return item, next_id
            latent = self._check_latent(item.latent)
        elif isinstance(item, Recipe):
            latent = self._latent_from_recipe(item)
        elif isinstance(item, Latent):
            latent = self._latent_from_latent(item, self.settings)
        elif isinstance(item, (np.ndarray, torch.Tensor)):
            latent = self._check_latent(item)
        else:
            raise ValueError(f"cannot use {type(item).__name__} as a parent: give an individual, a recipe, "
                             "a latent or an array")
        return Individual(next_id, latent, generation=generation, origin="extra"), next_id + 1

    def _check_latent(self, value: Any) -> np.ndarray:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        arr = np.asarray(value, dtype=np.float32)
        G = self.G
        if self.space == "z":
            if arr.size != G.z_dim:
                raise ValueError(f"a Z-space parent must be a z of {G.z_dim} numbers, got shape {list(arr.shape)}")
            return np.ascontiguousarray(arr.reshape(G.z_dim))
        if arr.shape[-1:] != (G.w_dim,) or arr.size not in (G.w_dim, G.num_ws * G.w_dim):
            raise ValueError(f"a W-space parent must be a w of shape [{G.w_dim}] or [{G.num_ws}, {G.w_dim}], "
                             f"got {list(arr.shape)}")
        return np.ascontiguousarray(np.broadcast_to(arr.reshape(-1, G.w_dim), (G.num_ws, G.w_dim)))

    def _latent_from_latent(self, latent: Latent, settings: RenderSettings) -> np.ndarray:
        if self.space == "z":
            if latent.w is not None:
                raise ValueError("a Z-space evolution cannot take a parent given as a w; evolve in W instead")
            if latent.z is not None:
                return self._check_latent(latent.z)
            if latent.seed is not None:
                return latents.z_from_seed(latent.seed, self.G.z_dim).reshape(-1).astype(np.float32)
            raise ValueError("the parent's latent has no seed, z or w")
        if latent.w is not None:
            return self._check_latent(latent.w)
        return self._check_latent(self.renderer.ws_from_latent(latent, settings)[0].cpu().numpy())

    def _latent_from_recipe(self, recipe: Recipe) -> np.ndarray:
        if self.space == "z":
            if recipe.mix is not None:
                raise ValueError("a Z-space evolution cannot take a style-mixed image as a parent; evolve in W")
            return self._latent_from_latent(recipe.latent, self.settings)
        settings = Renderer.settings_of(recipe)
        if self.G.c_dim == 0:
            settings = replace(settings, class_index=None)
        elif settings.class_index is None:
            settings = replace(settings, class_index=self.settings.class_index)
        ws = self.renderer.ws_from_latent(recipe.latent, settings)
        if recipe.mix is not None:
            source = self.renderer.ws_from_latent(recipe.mix.source, settings)
            ws = latents.mix_styles(ws, source, recipe.mix.layers)
        return self._check_latent(ws[0].cpu().numpy())

    def _synthesize(self, ws: torch.Tensor, resolution: int) -> torch.Tensor:
        """Float images [N, C, H, W] clamped to [-1, 1], stopping at ``resolution``."""
        s = self.settings
        kwargs: dict[str, Any] = {}
        if resolution < self.G.img_resolution:
            kwargs["max_resolution"] = resolution
        if s.noise_mode == "random":
            kwargs["noise_generator"] = [torch.Generator(device="cpu").manual_seed(self.noise_seed)
                                         for _ in range(ws.shape[0])]
        kwargs.update(self.renderer.view_kwargs(s))
        with torch.inference_mode(), ops.tiling(s.tile), ops.canvas(s.canvas):
            img = self.G.synthesis(ws.to(self.renderer.device), noise_mode=s.noise_mode, **kwargs)
            return img.float().clamp(-1, 1)

    def _evaluate(self, individuals: Sequence[Individual], progress, should_cancel, on_individual,
                  resolution: int | None = None) -> None:
        """Render (at ``resolution``, default the score resolution, ``batch_size`` at a time) and score
        ``individuals`` (``score_batch`` at a time: CLIP is more efficient on larger batches).

        With :attr:`overlap`, each scoring batch is scored on a second thread while the next one
        renders; results are still taken in order, on this thread."""
        resolution = resolution or self.score_resolution
        total = len(individuals)
        waiting: list[torch.Tensor] = []
        done = rendered = 0
        pending: tuple[Sequence[Individual], torch.Tensor, Future] | None = None

        def take(chunk: Sequence[Individual], images: torch.Tensor, result: FitnessResult) -> None:
            nonlocal done
            pixels = to_uint8(images)
            for n, ind in enumerate(chunk):   # new individuals only: a cancelled call drops them all
                ind.score = float(result.total[n])
                ind.parts = {k: float(v[n]) for k, v in result.parts.items()}
                ind.image = pixels[n]
                if on_individual is not None:
                    on_individual(ind)
            done += len(chunk)
            if progress is not None:
                progress(done, total)

        def collect() -> None:
            nonlocal pending
            if pending is not None:
                chunk, images, future = pending
                pending = None
                take(chunk, images, future.result())

        with ThreadPoolExecutor(1, thread_name_prefix="evolve-score") if self.overlap else nullcontext() as side:
            try:
                for start in range(0, total, self.batch_size):
                    if should_cancel is not None and should_cancel():
                        raise EvolutionCancelled()
                    chunk = individuals[start:start + self.batch_size]
                    ws = self.ws_of(chunk)
                    t = time.perf_counter()
                    waiting.append(self._synthesize(ws, resolution))
                    self.timings["synthesis"] += time.perf_counter() - t
                    rendered += len(chunk)
                    if sum(x.shape[0] for x in waiting) >= self.score_batch or rendered == total:
                        images = torch.cat(waiting) if len(waiting) > 1 else waiting[0]
                        waiting.clear()
                        batch = individuals[rendered - images.shape[0]:rendered]
                        if side is None:
                            take(batch, images, self._score(images, len(batch)))
                        else:
                            collect()
                            pending = (batch, images, side.submit(self._score, images, len(batch)))
                collect()
            finally:
                if pending is not None:   # cancelled or failed: let the side thread finish, drop its result
                    pending[2].cancel()

    def _score(self, images: torch.Tensor, count: int) -> FitnessResult:
        t = time.perf_counter()
        with torch.inference_mode():
            result = FitnessResult.coerce(self.fitness(images), count)
        self.timings["scoring"] += time.perf_counter() - t
        return result
