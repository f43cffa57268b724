"""The genetic algorithm: operators, population sizes, artist's choices, determinism, branching,
the CLIP fitness's arithmetic, and that it actually optimises (on the golden tiny generator)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.evolve.fitness import ClipFitness, FitnessResult
from studio.evolve.ga import (
    W_STD_SAMPLES,
    W_STD_SEED,
    Evolution,
    EvolutionCancelled,
    EvolveConfig,
    Individual,
    breed,
    crossover,
    pair_indices,
)
from studio.gan.formats import LoadedNetwork, load_network
from studio.gan.networks import GeneratorConfig, make_generator
from studio.gan.recipe import Latent
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings

# ---------------------------------------------------------------------------------------------
# Helpers


def tiny_renderer(c_dim: int = 0, resolution: int = 16, seed: int = 0) -> Renderer:
    """A random-weight generator small enough to render hundreds of images in a blink."""
    torch.manual_seed(seed)
    G = make_generator(GeneratorConfig(z_dim=16, w_dim=16, c_dim=c_dim, img_resolution=resolution,
                                       mapping_layers=2, channel_base=256, channel_max=32))
    with torch.no_grad():
        for block in G.synthesis.blocks():   # visible noise, so 'random' differs from 'const'
            for name in ("conv0", "conv1"):
                if hasattr(block, name):
                    getattr(block, name).noise_strength.fill_(0.5)
    net = LoadedNetwork(G.eval(), None, "native", Path("tiny.safetensors"), "0123456789abcdef")
    return Renderer(net, device="cpu", batch_size=8)


def redness(images: torch.Tensor) -> FitnessResult:
    """Mean of red minus the other channels: a fitness with a known optimum (pure red)."""
    red = images[:, 0] - 0.5 * (images[:, 1] + images[:, 2])
    total = red.mean(dim=(1, 2))
    return FitnessResult(total.numpy(), {"red": images[:, 0].mean(dim=(1, 2)).numpy()})


class Counting:
    """A fitness that counts the images it was asked to score."""

    def __init__(self, fn=redness):
        self.fn, self.images, self.sizes = fn, 0, []

    def __call__(self, images):
        self.images += images.shape[0]
        self.sizes.append(tuple(images.shape[-2:]))
        return self.fn(images)


@pytest.fixture(scope="module")
def tiny() -> Renderer:
    return tiny_renderer()


@pytest.fixture(scope="module")
def golden_renderer(golden, tmp_path_factory) -> Renderer:
    folder = tmp_path_factory.mktemp("models")
    sg2 = golden("rosinality_sg2_64")
    torch.save({"g_ema": sg2.group("g_ema"), "latent_avg": sg2["in.truncation_latent"][0]}, folder / "sg2.pt")
    return Renderer(load_network(folder / "sg2.pt"), device="cpu", batch_size=8)


def small(**kw) -> EvolveConfig:
    base = dict(population=24, parents=4, generations=2, seed=3)
    base.update(kw)
    return EvolveConfig(**base)


# ---------------------------------------------------------------------------------------------
# Configuration and operators


def test_defaults_are_magnets():
    cfg = EvolveConfig()
    assert (cfg.population, cfg.parents, cfg.recombination, cfg.mutation, cfg.generations) == (200, 4, 0.333, 0.25, 5)
    assert cfg.space == "w" and cfg.generation_size == 20 and cfg.score_resolution == 256
    assert EvolveConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("bad", [
    dict(population=0), dict(parents=0), dict(parents=5, population=4), dict(recombination=1.5),
    dict(mutation=-0.1), dict(space="x"), dict(seed=-1), dict(generations=-1), dict(mutation=float("nan")),
    dict(score_resolution=0), dict(parents=True),
])
def test_config_refuses_bad_values(bad):
    with pytest.raises(ValueError):
        EvolveConfig(**bad)


def test_pairs_are_every_ordered_pair_including_self_pairs():
    pairs = pair_indices(4)
    assert len(pairs) == 16 and len(set(pairs)) == 16
    assert pairs[0] == (0, 0) and pairs[1] == (0, 1) and pairs[4] == (1, 0) and pairs[-1] == (3, 3)
    assert all((i, i) in pairs for i in range(4))


def test_crossover_and_breed_follow_the_formula_exactly():
    rng = np.random.default_rng(0)
    parents = rng.standard_normal((3, 6))
    noise = rng.standard_normal((9, 6))
    r, m = 0.333, 0.25
    kids = breed(parents, r, m, noise)
    assert kids.shape == (9, 6) and kids.dtype == np.float32
    for n, (i, j) in enumerate(pair_indices(3)):
        expected = (1 - r) * parents[i] + r * parents[j] + m * noise[n]
        np.testing.assert_allclose(kids[n], expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(crossover(parents[0], parents[1], 0.0), parents[0])
    np.testing.assert_allclose(crossover(parents[0], parents[1], 1.0), parents[1])
    # a self pair is the parent plus its mutation
    np.testing.assert_allclose(breed(parents, r, 0.0, noise)[4], parents[1], rtol=1e-6)


def test_w_noise_is_scaled_per_dimension_and_shared_by_all_layers():
    rng = np.random.default_rng(1)
    parents = rng.standard_normal((2, 5, 4))         # [K, num_ws, w_dim]
    noise = rng.standard_normal((4, 4))              # one [w_dim] per child
    scale = np.array([0.5, 1.0, 2.0, 4.0])
    kids = breed(parents, 0.25, 0.3, noise, scale)
    for n, (i, j) in enumerate(pair_indices(2)):
        step = kids[n] - (0.75 * parents[i] + 0.25 * parents[j])
        np.testing.assert_allclose(step, np.broadcast_to(0.3 * scale * noise[n], (5, 4)), atol=1e-5)
    with pytest.raises(ValueError):
        breed(parents, 0.25, 0.3, noise[:3])
    with pytest.raises(ValueError):
        breed(parents, 0.25, 0.3, rng.standard_normal((4, 3)))


def test_fitness_results_are_checked():
    assert FitnessResult.coerce([1, 2], 2).total.tolist() == [1.0, 2.0]
    assert FitnessResult.coerce(torch.tensor([float("nan")]), 1).total[0] == -np.inf
    with pytest.raises(ValueError, match="3 'total' values for 2 images"):
        FitnessResult.coerce([1, 2, 3], 2)


# ---------------------------------------------------------------------------------------------
# Populations and the artist's choices


def test_default_run_sizes_and_carried_parents(tiny):
    fitness = Counting()
    evo = Evolution(tiny, fitness, EvolveConfig(seed=1))
    gen0 = evo.start()
    assert len(gen0) == 200 and fitness.images == 200
    assert gen0.scores == sorted(gen0.scores, reverse=True)
    assert len({ind.seed for ind in gen0}) == 200
    top = evo.suggest_parents()
    assert top == gen0.ids[:4]
    gen1 = evo.next_generation()
    assert len(gen1) == 20 and fitness.images == 216      # the 4 parents are not rendered again
    assert gen1.parents_used == top
    kids = [ind for ind in gen1 if ind.origin == "offspring"]
    assert len(kids) == 16 and {ind.parents for ind in kids} == {(a, b) for a in top for b in top}
    for ident in top:   # parents carried with their score and image
        assert evo.individual(ident) in gen1.individuals
    assert all(ind.generation == 1 and ind.image.shape == (16, 16, 3) for ind in kids)
    for _ in range(4):
        evo.next_generation()
    assert [len(g) for g in evo.history] == [200, 20, 20, 20, 20, 20]
    assert fitness.images == evo.planned_images() == 280
    bests = [g.best.score for g in evo.history]
    assert bests == sorted(bests)   # elitism: the best never gets worse


@pytest.mark.parametrize("space", ["w", "z"])
def test_offspring_in_the_evolution_follow_the_formula(tiny, space):
    cfg = small(space=space, recombination=0.4, mutation=0.3)
    evo = Evolution(tiny, redness, cfg)
    evo.start()
    parents = [evo.individual(i) for i in evo.suggest_parents()]
    gen = evo.next_generation()
    noise_dim = tiny.G.z_dim if space == "z" else tiny.G.w_dim
    noise = np.random.default_rng([cfg.seed, 1, gen.uid]).standard_normal((16, noise_dim))
    scale = 1.0 if space == "z" else evo.w_std()
    kids = {ind.parents: ind for ind in gen if ind.origin == "offspring"}
    for n, (i, j) in enumerate(pair_indices(4)):
        a, b = parents[i].latent, parents[j].latent
        expected = 0.6 * a + 0.4 * b + 0.3 * scale * noise[n]
        got = kids[parents[i].id, parents[j].id].latent
        assert got.shape == ((16,) if space == "z" else (tiny.G.num_ws, 16))
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_mutation_scale_means_the_same_in_z_and_w(tiny):
    # W std estimated from the mapping network with the fixed seed, untruncated
    evo = Evolution(tiny, redness, small(), settings=RenderSettings(truncation_psi=0.5))
    z = np.random.RandomState(W_STD_SEED).randn(W_STD_SAMPLES, 16).astype(np.float32)
    with torch.inference_mode():
        ws = tiny.G.mapping(torch.from_numpy(z), None)[:, 0]
    np.testing.assert_allclose(evo.w_std(), ws.double().std(0).numpy(), rtol=1e-4)
    # with r = 0 child (i, j) is parent i plus its mutation: mutation x the latent's spread in both spaces
    for space in ("z", "w"):
        evo = Evolution(tiny, redness, small(space=space, recombination=0.0, mutation=0.25, population=16))
        gen0 = evo.start()
        gen = evo.next_generation(parents=gen0.ids)                     # 16 parents, 256 children
        steps = []
        for kid in (ind for ind in gen if ind.origin == "offspring"):
            step = kid.latent - evo.individual(kid.parents[0]).latent
            if space == "w":
                assert np.allclose(step, step[0], atol=1e-5)   # the same noise on every layer
                step = step[0] / evo.w_std()
            steps.append(step)
        assert len(steps) == 256 and np.std(steps) == pytest.approx(0.25, rel=0.05)


def test_parent_override_and_odd_parent_counts(tiny):
    evo = Evolution(tiny, redness, small())
    gen0 = evo.start()
    worst = gen0.ids[-2:]
    gen1 = evo.next_generation(parents=worst)
    assert gen1.parents_used == worst and len(gen1) == 2 + 4
    assert {ind.parents for ind in gen1 if ind.origin == "offspring"} == {(a, b) for a in worst for b in worst}
    one = evo.next_generation(parents=[gen1.ids[0]])
    assert len(one) == 2
    with pytest.raises(ValueError, match="no individual"):
        evo.next_generation(parents=[10_000])
    with pytest.raises(ValueError, match="at least one parent"):
        evo.next_generation(parents=[])
    with pytest.raises(ValueError, match="at most 16"):
        evo.next_generation(parents=gen0.ids[:17])


def test_locked_parents_are_carried_until_unlocked(tiny):
    evo = Evolution(tiny, redness, small())
    gen0 = evo.start()
    keep = gen0.ids[-1]                     # the worst: never among the suggestions
    evo.lock(keep)
    gen1 = evo.next_generation()
    assert gen1.parents_used == evo.suggest_parents(gen0) + [keep] and len(gen1) == 5 + 25
    gen2 = evo.next_generation()
    assert keep in gen2.parents_used and gen2.locked == [keep]
    evo.unlock(keep)
    gen3 = evo.next_generation()
    assert keep not in gen3.parents_used and len(gen3) == 20
    gen4 = evo.next_generation(locked=[gen0.ids[-2]])   # lock through the call
    assert gen0.ids[-2] in gen4.parents_used and evo.locked == [gen0.ids[-2]]
    gen5 = evo.next_generation(parents=[gen4.ids[0]])   # an override keeps the locks
    assert gen5.parents_used == [gen4.ids[0], gen0.ids[-2]]
    log = evo.to_log()
    assert log["generations"][2]["locked"] == [keep]


def test_extra_parents_from_other_panels(tiny):
    settings = RenderSettings(truncation_psi=0.8)
    evo = Evolution(tiny, redness, small(), settings=settings)
    evo.start()
    seed_ws = tiny.ws_from_seeds([5], settings)[0].numpy()
    favourite = np.random.default_rng(0).standard_normal(16).astype(np.float32)
    recipe = tiny.recipe(settings, seed=9)
    gen = evo.next_generation(parents=evo.suggest_parents()[:2],
                              extra_parents=[Latent(seed=5), favourite, recipe])
    extras = [ind for ind in gen if ind.origin == "extra"]
    assert len(extras) == 3 and len(gen) == 5 + 25
    assert all(ind.score is not None and ind.image is not None for ind in extras)
    by_id = {ind.id: ind for ind in extras}
    first, second, third = (by_id[i] for i in sorted(by_id))
    np.testing.assert_allclose(first.latent, seed_ws, atol=1e-6)
    np.testing.assert_allclose(second.latent, np.broadcast_to(favourite, (tiny.G.num_ws, 16)))
    np.testing.assert_allclose(third.latent, tiny.ws_from_seeds([9], settings)[0].numpy(), atol=1e-6)
    assert gen.parents_used[2:] == sorted(by_id)
    # an individual of this evolution (e.g. from an earlier generation) is reused as it is
    old = evo.history[0].individuals[-1]
    again = evo.next_generation(parents=[], extra_parents=[old])
    assert again.parents_used == [old.id] and len(again) == 2
    with pytest.raises(ValueError, match="W-space parent"):
        evo.next_generation(extra_parents=[np.zeros(7)])


def test_z_space_takes_seeds_and_zs_but_not_ws(tiny):
    evo = Evolution(tiny, redness, small(space="z"))
    gen0 = evo.start()
    assert gen0.best.latent.shape == (16,)
    gen = evo.next_generation(extra_parents=[Latent(seed=3), np.ones(16)])
    extras = sorted((ind for ind in gen if ind.origin == "extra"), key=lambda ind: ind.id)
    np.testing.assert_allclose(extras[0].latent, np.random.RandomState(3).randn(16).astype(np.float32))
    with pytest.raises(ValueError, match="cannot take a parent given as a w"):
        evo.next_generation(extra_parents=[Latent(w=np.zeros(16))])


def test_same_seed_same_log_and_different_seed_differs(tiny):
    def play(seed):
        evo = Evolution(tiny, redness, small(seed=seed, population=12))
        evo.start()
        evo.lock(evo.current.ids[-1])
        evo.next_generation()
        evo.next_generation(parents=evo.current.ids[1:4])
        evo.branch(1)
        evo.next_generation()
        return evo, json.dumps(evo.to_log(), allow_nan=False)

    a, log_a = play(7)
    b, log_b = play(7)
    assert log_a == log_b
    for ga, gb in zip(a.all_generations, b.all_generations):
        for x, y in zip(ga, gb):
            assert np.array_equal(x.latent, y.latent) and np.array_equal(x.image, y.image)
    _, log_c = play(8)
    assert log_c != log_a


def test_branch_restores_an_earlier_generation_and_keeps_the_log(tiny):
    evo = Evolution(tiny, redness, small())
    evo.run(3)
    dropped = evo.history[2]
    gen1 = evo.branch(1)
    assert evo.current is gen1 and len(evo.history) == 2
    new = evo.next_generation()
    assert new.index == 2 and new.bred_from == gen1.uid and new.parents_used == dropped.parents_used
    assert new.ids != dropped.ids            # fresh mutation noise on the new branch
    log = evo.to_log()
    assert len(log["generations"]) == 5 and log["active_line"] == [0, 1, new.uid]
    assert [g["active"] for g in log["generations"]] == [True, True, False, False, True]
    assert evo.individual(dropped.ids[0]) is dropped.individuals[0]   # still reachable
    with pytest.raises(ValueError, match="no generation 7"):
        evo.branch(7)
    back = evo.switch_to(dropped.uid)        # the old branch is still there to return to
    assert back is dropped and [g.uid for g in evo.history] == [0, 1, dropped.uid]
    assert evo.next_generation().bred_from == dropped.uid
    with pytest.raises(ValueError, match="no generation #99"):
        evo.switch_to(99)


def cancel_after(batches: int):
    """A should_cancel that lets ``batches`` rendered batches through, then cancels."""
    calls = {"n": 0}

    def should_cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > batches

    return should_cancel


def test_cancel_leaves_the_evolution_unchanged(tiny):
    evo = Evolution(tiny, redness, small())
    with pytest.raises(EvolutionCancelled):
        evo.start(should_cancel=cancel_after(1))
    assert evo.history == [] and evo.all_generations == []
    evo.start()
    before = (list(evo.history), evo.to_log())
    with pytest.raises(EvolutionCancelled):
        evo.next_generation(should_cancel=cancel_after(1))
    assert evo.history == before[0] and evo.to_log() == before[1]
    assert evo.next_generation().ids == Evolution(tiny, redness, small()).run(1)[-1].ids


def test_streaming_callbacks_and_progress(tiny):
    evo = Evolution(tiny, redness, small())
    seen, progress, generations = [], [], []
    evo.run(2, progress=lambda d, t: progress.append((d, t)), on_individual=seen.append,
            on_generation=generations.append)
    assert len(seen) == 24 + 2 * 16 and all(isinstance(ind, Individual) and ind.score is not None for ind in seen)
    assert progress[-1] == (56, 56) and [d for d, _ in progress] == sorted(d for d, _ in progress)
    assert generations == evo.history


def test_recipes_recreate_the_images_and_keep_the_class():
    cond = tiny_renderer(c_dim=3, resolution=16, seed=4)
    with pytest.raises(ValueError, match="conditional"):
        Evolution(cond, redness, small())
    for space in ("w", "z"):
        for noise in ("const", "random"):
            settings = RenderSettings(truncation_psi=0.7, noise_mode=noise)
            evo = Evolution(cond, redness, small(space=space, population=8), class_index=2, settings=settings)
            evo.run(1)
            for ind in (evo.current.individuals[0], evo.current.individuals[-1]):
                recipe = evo.recipe_for(ind)
                assert recipe.class_index == 2 and recipe.truncation_psi == 1.0 and recipe.w.shape == (cond.G.num_ws, 16)
                assert recipe.noise_mode == noise
                image = cond.render_recipe(recipe)
                assert np.abs(image.astype(int) - ind.image.astype(int)).max() <= 1
    # the class is baked into the population
    other = Evolution(cond, redness, small(population=8), class_index=0)
    same = Evolution(cond, redness, small(population=8), class_index=2)
    a, b = other.start(), same.start()
    assert [ind.seed for ind in a] != [] and sorted(ind.seed for ind in a) == sorted(ind.seed for ind in b)
    first_a = next(ind for ind in a if ind.seed == b.best.seed)
    assert not np.allclose(first_a.latent, b.best.latent)


def test_scoring_at_an_early_exit_and_full_renders():
    big = tiny_renderer(resolution=64, seed=2)
    fitness = Counting()
    evo = Evolution(big, fitness, small(population=8, score_resolution=16))
    assert evo.score_resolution == 16
    evo.run(1)
    assert set(fitness.sizes) == {(16, 16)} and evo.current.best.image.shape == (16, 16, 3)
    best = evo.current.best
    full = evo.render_full([best])[0]
    assert full.shape == (64, 64, 3)
    assert np.abs(big.render_recipe(evo.recipe_for(best)).astype(int) - full.astype(int)).max() <= 1
    assert Evolution(big, redness, small(score_resolution=None)).score_resolution == 64
    assert Evolution(big, redness, small(score_resolution=20)).score_resolution == 32
    assert Evolution(big, redness, small(score_resolution=1000)).score_resolution == 64

    class Wide:   # a fitness that states its input size raises the score resolution
        input_size = 40

        def __call__(self, images):
            return redness(images)

    assert Evolution(big, Wide(), small(score_resolution=16)).score_resolution == 64
    assert evo.timings["synthesis"] > 0 and evo.timings["scoring"] > 0 and evo.timings["full_render"] > 0


@pytest.mark.parametrize("space", ["w", "z"])
def test_the_algorithm_optimises_redness(golden_renderer, space):
    evo = Evolution(golden_renderer, redness, EvolveConfig(population=24, parents=4, generations=6, seed=0, space=space))
    history = evo.run()
    bests = [g.best.score for g in history]
    top4 = [np.mean(g.scores[:4]) for g in history]
    assert bests == sorted(bests)
    assert bests[-1] > bests[0] + 0.5, bests       # about 0.9 -> 1.8 (the maximum is 2)
    assert top4[-1] > 3 * top4[0], top4
    reds = [np.mean([ind.image[..., 0].mean() for ind in g.individuals]) for g in history]
    assert reds[-1] > reds[0], reds


# ---------------------------------------------------------------------------------------------
# The CLIP fitness


class FakeScorer:
    """Features: the mean colour of the image, normalised; texts map to fixed colours."""

    input_size = 8
    COLOURS = {"red": [1.0, 0.0, 0.0], "green": [0.0, 1.0, 0.0], "grey": [1.0, 1.0, 1.0]}

    def __init__(self):
        self.text_calls = []

    def encode_images(self, images):
        feats = images.float().mean(dim=(2, 3)) + 1.0
        return torch.nn.functional.normalize(feats, dim=-1)

    def encode_text(self, prompts):
        self.text_calls.append(list(prompts))
        return torch.nn.functional.normalize(torch.tensor([self.COLOURS[p] for p in prompts]), dim=-1)


class FakeD(torch.nn.Module):
    img_resolution, c_dim = 8, 2

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(3.0))
        self.seen = []

    def forward(self, img, c=None):
        self.seen.append((tuple(img.shape), None if c is None else c.tolist()))
        return (img[:, 0].mean(dim=(1, 2)) * self.scale + (c[:, 1] if c is not None else 0)).reshape(-1, 1)


def test_clip_fitness_parts_and_total():
    images = torch.rand(3, 3, 16, 16) * 2 - 1
    scorer = FakeScorer()
    feats = scorer.encode_images(images)
    red, green = (torch.nn.functional.normalize(torch.tensor(FakeScorer.COLOURS[c]), dim=0) for c in ("red", "green"))
    cos_red, cos_green = (feats @ red).numpy(), (feats @ green).numpy()

    plain = ClipFitness(scorer, "red")
    result = plain(images)
    np.testing.assert_allclose(result.total, cos_red, rtol=1e-6)
    assert set(result.parts) == {"clip"} and plain.input_size == 8

    neg = ClipFitness(scorer, "red", negative="green", negative_weight=0.5)(images)
    np.testing.assert_allclose(neg.total, cos_red - 0.5 * cos_green, rtol=1e-5)
    np.testing.assert_allclose(neg.parts["negative"], cos_green, rtol=1e-6)

    D = FakeD()
    real = ClipFitness(scorer, "red", discriminator=D, realness_weight=2.0, class_labels=np.array([0.0, 1.0]))
    out = real(images)
    resized = torch.nn.functional.interpolate(images, size=(8, 8), mode="bilinear", align_corners=False, antialias=True)
    expected_real = torch.sigmoid(resized[:, 0].mean(dim=(1, 2)) * 3.0 + 1.0).numpy()
    np.testing.assert_allclose(out.parts["realness"], expected_real, rtol=1e-5)
    np.testing.assert_allclose(out.total, cos_red + 2.0 * expected_real, rtol=1e-5)
    assert all(shape == (1, 3, 8, 8) and c == [[0.0, 1.0]] for shape, c in D.seen)  # one image at a time
    with pytest.raises(ValueError, match="discriminator"):
        ClipFitness(scorer, "red", realness_weight=1.0)
    with pytest.raises(ValueError, match="prompt"):
        ClipFitness(scorer, "  ")


def test_clip_fitness_drives_an_evolution_and_is_logged(tiny):
    fitness = ClipFitness(FakeScorer(), "red", negative="green")
    evo = Evolution(tiny, fitness, small(population=12))
    evo.run(2)
    assert evo.score_resolution == 16       # the model's full size: below the 256 default
    log = json.loads(json.dumps(evo.to_log(), allow_nan=False))
    assert log["fitness"] == {"prompt": "red", "negative": "green", "negative_weight": 1.0, "realness_weight": 0.0}
    first = log["generations"][1]["individuals"][0]
    assert set(first["parts"]) == {"clip", "negative"} and first["score"] == pytest.approx(
        first["parts"]["clip"] - first["parts"]["negative"])
    assert log["config"]["population"] == 12 and log["best"]["score"] == evo.current.best.score
    assert log["generations"][1]["parents"] == log["generations"][0]["suggested"]


def test_a_wide_canvas_is_evolved_and_scored_whole(golden_renderer):
    """Every individual is drawn at the canvas' shape, the fitness sees all of it, the recipes keep it."""
    fitness = Counting()
    evo = Evolution(golden_renderer, fitness, small(generations=1), settings=RenderSettings(canvas=(8, 4)))
    evo.start()
    assert set(fitness.sizes) == {(evo.score_resolution, 2 * evo.score_resolution)}
    best = evo.history[-1].individuals[0]
    recipe = evo.recipe_for(best)
    assert recipe.canvas == [8, 4]
    full = evo.render_full([best])[0]
    assert full.shape == (64, 128, 3)
    assert np.abs(golden_renderer.render_recipe(recipe).astype(int) - full.astype(int)).max() <= 1


def test_a_previewed_start_scores_its_best_again_in_full(golden_renderer):
    """The initial population from an early exit, its best re-scored at the score resolution: they
    lead the ranking with their full scores, the rest follow by their preview scores."""
    fitness = Counting()
    config = small(population=24, generations=0, score_resolution=None, preview_resolution=16, rescore=8)
    evo = Evolution(golden_renderer, fitness, config)
    assert evo.preview_resolution == 16 and evo.score_resolution == 64
    gen = evo.start()
    assert fitness.images == 24 + 8 and (16, 16) in fitness.sizes and (64, 64) in fitness.sizes
    plain = Evolution(golden_renderer, Counting(), small(population=24, generations=0, score_resolution=None))
    full = {ind.seed: ind.score for ind in plain.start().individuals}
    leaders = gen.individuals[:8]
    assert all(abs(ind.score - full[ind.seed]) < 1e-5 for ind in leaders)     # scored again in full
    assert [ind.score for ind in leaders] == sorted((ind.score for ind in leaders), reverse=True)
    assert gen.individuals[0].image.shape[0] == 64 and gen.individuals[-1].image.shape[0] == 16
    assert Evolution(golden_renderer, Counting(), small(preview_resolution=64, score_resolution=None)) \
        .preview_resolution is None                                   # no early exit below the score resolution


def test_scoring_beside_rendering_gives_the_same_evolution_in_order(tiny):
    import threading

    def play(overlap):
        main, threads = threading.get_ident(), set()
        scorer = Counting()
        evo = Evolution(tiny, scorer, small(seed=3, population=40), score_batch=8, overlap=overlap)
        seen, progress = [], []

        def on_individual(ind):
            threads.add(threading.get_ident())
            seen.append(ind.id)

        evo.run(2, progress=lambda d, t: progress.append(d), on_individual=on_individual)
        assert threads == {main}                     # callbacks stay on the caller's thread
        return evo.to_log(), seen, progress, scorer.images

    plain, overlapped = play(False), play(True)
    assert overlapped == plain                       # same scores, same order, same images scored
    assert plain[2] == sorted(plain[2]) and plain[3] == 40 + 2 * 16

    evo = Evolution(tiny, redness, small(population=40), score_batch=8, overlap=True)
    with pytest.raises(EvolutionCancelled):
        evo.start(should_cancel=cancel_after(3))
    assert evo.history == [] and evo.all_generations == []
