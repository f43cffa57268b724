"""Training the small default CLIP (tiny config, a few dozen paintings, seconds on a CPU)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.training import clip_train
from studio.training.clip_train import evaluate_zero_shot, train_clip

TINY = {"embed_dim": 32,
        "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 32, "layers": 1, "head_width": 16},
        "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
ARGS = dict(images=64, resolution=32, batch=32, lr=2e-3, config_path=TINY, device="cpu", eval_images=24)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("clip")
    return out, train_clip(out, epochs=3, **ARGS)


def test_loss_decreases_and_outputs_written(trained):
    out, summary = trained
    assert summary["epochs_done"] == 3 and not summary["cancelled"]
    assert summary["losses"][-1] < summary["losses"][0]
    for name in ("config.json", "weights.safetensors", "vocabulary.txt", "README.md", "checkpoint.safetensors"):
        assert (out / name).is_file(), name
    assert json.loads((out / "config.json").read_text()) == TINY
    assert "zero-shot" in (out / "README.md").read_text().lower()
    import torch
    from safetensors.torch import load_file

    assert all(v.dtype == torch.float16 for v in load_file(str(out / "weights.safetensors")).values())
    assert summary["weights_bytes"] < 20_000_000


def test_output_loads_like_any_open_clip_folder(trained):
    from studio.clip.model import load_clip
    from studio.data.procedural import paint

    out, _ = trained
    scorer = load_clip(str(out))
    assert scorer.input_size == 32
    assert "grid" in scorer.vocabulary()
    images = np.stack([np.asarray(paint(seed, 32).image) for seed in range(3)])
    scores = scorer.score(images, "a grid painting")
    assert scores.shape == (3,) and bool(np.isfinite(scores.numpy()).all())


def test_zero_shot_accuracies_are_fractions(trained):
    out, summary = trained
    accuracy = evaluate_zero_shot(out, range(clip_train.EVAL_SEED_START, clip_train.EVAL_SEED_START + 12), 32)
    assert set(accuracy) == {"family", "colour", "shape"}
    assert all(0.0 <= v <= 1.0 for v in accuracy.values())
    assert set(summary["accuracy"]) == {"family", "colour", "shape"}


def test_resume_continues_the_epoch_count(tmp_path):
    cancel_after = {"steps": 0}

    def cancel() -> bool:   # stop during the second epoch (2 steps per epoch)
        cancel_after["steps"] += 1
        return cancel_after["steps"] >= 3

    first = train_clip(tmp_path, epochs=3, should_cancel=cancel, **ARGS)
    assert first["cancelled"] and first["epochs_done"] == 1
    assert not (tmp_path / "weights.safetensors").exists()
    assert json.loads((tmp_path / "checkpoint.json").read_text())["epoch"] == 1
    second = train_clip(tmp_path, epochs=3, **ARGS)
    assert second["epochs_done"] == 3 and second["losses"][0] == first["losses"][0]
    assert json.loads((tmp_path / "checkpoint.json").read_text())["epoch"] == 3
    with pytest.raises(ValueError, match="other settings"):
        train_clip(tmp_path, epochs=3, **dict(ARGS, batch=16))


def test_zero_shot_descriptions_cover_every_class_in_the_captions_words():
    from studio.data.procedural import COLOR_NAMES, FAMILIES, SHAPE_NAMES, caption_vocabulary, paint

    descriptions = clip_train.zero_shot_descriptions()
    words = set(caption_vocabulary())
    assert all(set(text.split()) <= words for text, _ in descriptions)
    for task, names in (("family", FAMILIES), ("colour", COLOR_NAMES), ("shape", SHAPE_NAMES)):
        assert {classes[task] for _, classes in descriptions} == set(names)
    texts = {text for text, _ in descriptions}
    # a real caption without its size word is one of them, labelled with the painting's classes
    painting = paint(1_000_003, 32, "colour field")
    a = painting.attributes
    assert " ".join(painting.caption.split()) in texts
    match = [c for t, c in descriptions if t == painting.caption][0]
    assert match == {"family": "colour field", "colour": a["dominant_color"], "shape": a["shape"]}


def test_cli_train_clip(tmp_path, capsys):
    from studio.cli import main
    from studio.data.procedural import write_dataset

    data = write_dataset(tmp_path / "data", 40, 32)
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    out = tmp_path / "clip"
    assert main(["train-clip", "--out", str(out), "--images", "40", "--res", "32", "--epochs", "1", "--batch", "16",
                 "--data", str(data), "--config", str(config), "--eval-images", "12", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "zero-shot" in printed and "family" in printed
    assert main(["train-clip", "--out", str(out), "--res", "32", "--evaluate-only", "--eval-images", "6",
                 "--device", "cpu"]) == 0
    assert "dominant colour" in capsys.readouterr().out
    assert main(["train-clip", "--out", str(out), "--data", str(tmp_path / "nope")]) == 2
