"""Ranking seeds against a prompt (engine and `studio rank`), with the golden 64 px generator
and a tiny random CLIP saved by the test."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.clip import model as clip
from studio.clip.model import ClipSpec, load_clip
from studio.clip.rank import rank_seeds, scoring_resolution
from studio.core.settings import Settings, save_settings
from studio.gan.formats import load_network
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings
from studio.imaging.metadata import read_recipe
from tests.clip_fixtures import make_tiny_clip

PROMPT = "an impressionist painting of autumn trees"
SEEDS = list(range(12))


@pytest.fixture(scope="module")
def files(golden, tmp_path_factory):
    """The golden rosinality network as a checkpoint, and a tiny CLIP folder."""
    folder = tmp_path_factory.mktemp("rank")
    sg2 = golden("rosinality_sg2_64")
    torch.save({"g_ema": sg2.group("g_ema"), "latent_avg": sg2["in.truncation_latent"][0]}, folder / "sg2.pt")
    weights, config, _ = make_tiny_clip(folder / "clip")
    return {"network": folder / "sg2.pt", "clip": weights, "clip_config": config}


@pytest.fixture(scope="module")
def renderer(files):
    return Renderer(load_network(files["network"]), device="cpu", batch_size=4)


@pytest.fixture(scope="module")
def scorer(files):
    return load_clip(ClipSpec.parse(str(files["clip"]), config=str(files["clip_config"])))


def _brute_force(renderer, scorer, seeds, settings, resolution, top_k):
    """Every seed rendered and scored on its own, then sorted."""
    scores = []
    for seed in seeds:
        ws = renderer.ws_from_seeds([seed], settings)
        with torch.inference_mode():
            image = renderer.G.synthesis(ws, noise_mode=settings.noise_mode, max_resolution=resolution)
        scores.append((seed, float(scorer.score(image, PROMPT)[0])))
    return sorted(scores, key=lambda e: -e[1])[:top_k]


@pytest.mark.parametrize("score_resolution, rendered, count", [(None, 64, 8), (32, 32, 12)])
def test_top_k_equals_brute_force(renderer, scorer, monkeypatch, score_resolution, rendered, count):
    settings = RenderSettings(truncation_psi=0.8)
    seeds = SEEDS[:count]
    resolution = scoring_resolution(renderer, scorer, score_resolution)
    assert resolution == (None if score_resolution is None else 32)
    expected = _brute_force(renderer, scorer, seeds, settings, resolution, 5)
    sizes = []
    score = scorer.score
    monkeypatch.setattr(scorer, "score",
                        lambda images, *a, **k: sizes.append(images.shape[-1]) or score(images, *a, **k))
    top = rank_seeds(renderer, scorer, PROMPT, seeds, top_k=5, settings=settings, score_resolution=score_resolution)
    assert [s for s, _ in top] == [s for s, _ in expected]
    assert np.allclose([v for _, v in top], [v for _, v in expected], atol=1e-5)
    assert sizes == [rendered] * (count // 4)           # batches of 4
    assert all(a[1] >= b[1] for a, b in zip(top, top[1:]))


def test_early_exit_is_used_only_when_the_model_allows(renderer, scorer, monkeypatch):
    assert renderer.G.synthesis.preview_resolutions() == [4, 8, 16, 32, 64]
    assert scoring_resolution(renderer, scorer, 256) is None      # nothing >= 256 below 64 px
    assert scoring_resolution(renderer, scorer, 16) == 32         # never below CLIP's input size
    assert scoring_resolution(renderer, scorer, 33) is None       # 64 is the full image
    calls = []
    forward = renderer.G.synthesis.forward
    monkeypatch.setattr(renderer.G.synthesis, "forward",
                        lambda *a, **k: calls.append(k.get("max_resolution")) or forward(*a, **k))
    rank_seeds(renderer, scorer, PROMPT, SEEDS[:4], top_k=2, score_resolution=32)
    assert calls == [32]


def test_streams_updates_and_progress(renderer, scorer):
    updates, progress = [], []
    top = rank_seeds(renderer, scorer, PROMPT, SEEDS, top_k=3, batch_size=2, score_resolution=32,
                     on_update=updates.append, progress=lambda done, total: progress.append((done, total)))
    assert progress == [(d, 12) for d in range(2, 13, 2)]
    assert updates and updates[-1] == top and len(top) == 3
    assert all(a != b for a, b in zip(updates, updates[1:]))      # only changes are reported
    assert len(updates[0]) == 2                                   # the first batch fills in


def test_cancel_between_batches_returns_the_best_so_far(renderer, scorer):
    progress = []
    top = rank_seeds(renderer, scorer, PROMPT, SEEDS, top_k=3, batch_size=4, score_resolution=32,
                     should_cancel=lambda: len(progress) >= 1, progress=lambda d, t: progress.append(d))
    assert progress == [4]
    full_first_batch = rank_seeds(renderer, scorer, PROMPT, SEEDS[:4], top_k=3, score_resolution=32)
    assert top == full_first_batch
    assert rank_seeds(renderer, scorer, PROMPT, SEEDS, should_cancel=lambda: True) == []


def test_negative_prompt_and_bad_arguments(renderer, scorer):
    plain = dict(rank_seeds(renderer, scorer, "trees", SEEDS[:4], top_k=4, score_resolution=32))
    steered = dict(rank_seeds(renderer, scorer, "trees", SEEDS[:4], top_k=4, negative="people", negative_weight=0.5,
                              score_resolution=32))
    with torch.inference_mode():
        images = renderer.G.synthesis(renderer.ws_from_seeds(SEEDS[:4], RenderSettings()), noise_mode="const",
                                      max_resolution=32)
    neg = scorer.encode_images(images) @ scorer.encode_text(["people"])[0]
    for i, seed in enumerate(SEEDS[:4]):
        assert steered[seed] == pytest.approx(plain[seed] - 0.5 * float(neg[i]), abs=1e-5)
    with pytest.raises(ValueError, match="prompt is empty"):
        rank_seeds(renderer, scorer, "  ", SEEDS)
    with pytest.raises(ValueError, match="at least 1"):
        rank_seeds(renderer, scorer, PROMPT, SEEDS, top_k=0)


# ---------------------------------------------------------------------------------------------
# The command


def _rank_args(files, out, *extra):
    return ["rank", "--network", str(files["network"]), "--prompt", PROMPT, "--seeds", "0-11", "--top", "3",
            "--clip", str(files["clip"]), "--clip-config", str(files["clip_config"]), "--outdir", str(out),
            "--batch", "4", *extra]


def test_cli_writes_the_winners_and_ranking_json(files, renderer, scorer, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_rank_args(files, out, "--trunc", "0.7", "--score-res", "32")) == 0
    ranking = json.loads((out / "ranking.json").read_text())
    settings = RenderSettings(truncation_psi=0.7)
    expected = rank_seeds(renderer, scorer, PROMPT, SEEDS, top_k=3, settings=settings, score_resolution=32)
    assert [(e["seed"], e["rank"]) for e in ranking["top"]] == [(s, i) for i, (s, _) in enumerate(expected, 1)]
    assert np.allclose([e["score"] for e in ranking["top"]], [v for _, v in expected], atol=1e-5)
    assert ranking["prompt"] == PROMPT and ranking["seeds"] == "0-11" and ranking["seed_count"] == 12
    assert ranking["clip"]["spec"] == str(files["clip"]) and ranking["clip"]["config"] == str(files["clip_config"])
    assert ranking["score_resolution"] == 32 and ranking["truncation_psi"] == 0.7
    names = [e["file"] for e in ranking["top"]]
    assert sorted(p.name for p in out.iterdir()) == sorted(names + ["ranking.json"])
    assert names[0] == f"rank01-seed{expected[0][0]:04d}.png"
    full = dict(renderer.render_seeds([s for s, _ in expected], settings))
    for seed, _ in expected:                                       # re-rendered at full size
        path = out / f"rank{[s for s, _ in expected].index(seed) + 1:02d}-seed{seed:04d}.png"
        pixels = np.asarray(Image.open(path))
        assert pixels.shape == (64, 64, 3)
        assert np.abs(pixels.astype(int) - full[seed].astype(int)).max() <= 1
        recipe = read_recipe(path)
        assert recipe.seed == seed and recipe.truncation_psi == 0.7
    printed = capsys.readouterr().out
    assert "wrote the top 3 of 12" in printed and "scored at 32 px" in printed


def test_cli_takes_the_clip_from_the_settings(files, tmp_path):
    save_settings(Settings(clip=str(files["clip"].parent)))       # a folder: config.json + weights
    out = tmp_path / "out"
    args = [a for a in _rank_args(files, out) if a not in ("--clip", str(files["clip"]), "--clip-config",
                                                            str(files["clip_config"]))]
    args[args.index("--seeds") + 1] = "0-3"
    assert main(args) == 0
    ranking = json.loads((out / "ranking.json").read_text())
    assert ranking["clip"]["spec"] == str(files["clip"].parent) and len(ranking["top"]) == 3
    assert ranking["score_resolution"] == 64                       # default 256: full size here


def test_cli_default_clip_not_bundled_is_one_line(files, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(clip, "DEFAULT_CLIP_DIR", tmp_path / "default-clip")
    args = ["rank", "--network", str(files["network"]), "--prompt", PROMPT, "--seeds", "0-3",
            "--outdir", str(tmp_path / "out")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: the default CLIP is not bundled") and "\n" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("change, words", [
    (("--prompt", " "), "--prompt is empty"),
    (("--top", "0"), "--top must be at least 1"),
    (("--score-res", "-1"), "--score-res must be"),
    (("--seeds", "5-1"), "seed"),
    (("--clip", "ViT-B-32:no_such_tag"), "no pretrained tag"),
    (("--clip", "missing.safetensors"), "not found"),
    (("--network", "missing.pt"), "missing.pt"),
])
def test_cli_errors_are_one_line(files, tmp_path, capsys, change, words):
    args = _rank_args(files, tmp_path / "out")
    if change[0] == "--clip":
        i = args.index("--clip-config")
        del args[i:i + 2]
    if change[0] in args:
        args[args.index(change[0]) + 1] = change[1]
    else:
        args += list(change)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and words in err and "\n" not in err


def test_a_previewed_ranking_scores_its_shortlist_again_in_full(renderer, scorer, monkeypatch):
    settings = RenderSettings(truncation_psi=0.8)
    full = dict(_brute_force(renderer, scorer, SEEDS, settings, None, len(SEEDS)))
    sizes = []
    score = scorer.score
    monkeypatch.setattr(scorer, "score",
                        lambda images, *a, **k: sizes.append(images.shape[-1]) or score(images, *a, **k))
    progress = []
    top = rank_seeds(renderer, scorer, PROMPT, SEEDS, top_k=3, settings=settings, score_resolution=None,
                     preview_resolution=32, rescore=4, progress=lambda d, t: progress.append((d, t)))
    assert sizes == [32, 32, 32, 64]                        # 12 seeds from the preview, then 4 in full
    assert len(top) == 3 and all(abs(v - full[s]) < 1e-5 for s, v in top)     # the returned scores are full ones
    assert progress[-1] == (16, 16)
