"""CLIP specs, safe loading and scoring, with a tiny random open_clip model saved by the test.

Nothing here downloads: the tiny CLIP is built from a config, saved to a file and loaded back
through the real :func:`load_clip` path; pretrained tags are tested against an empty (or a
hand-made) Hugging Face cache with the network blocked.
"""

from __future__ import annotations

import json
import os
import socket

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from studio.clip import model as clip
from studio.clip.model import ClipError, ClipSpec, load_clip
from studio.clip.scorer import ClipScorer
from studio.core.errors import StudioError
from studio.gan.render import to_uint8
from tests.clip_fixtures import TINY_CONFIG, make_tiny_clip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_clip")
    weights, cfg, model = make_tiny_clip(folder)
    return weights, cfg, model


@pytest.fixture
def scorer(tiny) -> ClipScorer:
    weights, cfg, _ = tiny
    return load_clip(ClipSpec.parse(str(weights), config=str(cfg)))


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""
    attempts = []

    def refuse(self, *args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted during a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def _images(n: int, size: int = 64, seed: int = 1) -> torch.Tensor:
    """Smooth random float images in [-1, 1], like generator output."""
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(n, 3, 8, 8, generator=g) * 2 - 1
    return F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)


def _manual_features(model, images: torch.Tensor) -> torch.Tensor:
    open_clip = clip.import_open_clip()
    x = (images * 127.5 + 128).clamp(0, 255) / 255
    x = F.interpolate(x, size=(32, 32), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
    mean = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(open_clip.OPENAI_DATASET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        return F.normalize(model.encode_image((x - mean) / std), dim=-1)


def _manual_text(model, prompt: str) -> torch.Tensor:
    open_clip = clip.import_open_clip()
    with torch.no_grad():
        return F.normalize(model.encode_text(open_clip.tokenize([prompt])), dim=-1)[0]


# ---------------------------------------------------------------------------------------------
# Specs


def test_parse_specs(tmp_path):
    assert ClipSpec.parse("default") == ClipSpec("default")
    assert ClipSpec.parse("  ") == ClipSpec("default")
    spec = ClipSpec.parse("ViT-B-32:laion2b_s34b_b79k")
    assert (spec.kind, spec.name, spec.pretrained) == ("pretrained", "ViT-B-32", "laion2b_s34b_b79k")
    assert spec.describe() == "ViT-B-32 (laion2b_s34b_b79k)" and spec.to_text() == "ViT-B-32:laion2b_s34b_b79k"
    ckpt = ClipSpec.parse(str(tmp_path / "clip.safetensors"), config="ViT-B-32")
    assert (ckpt.kind, ckpt.name, ckpt.config) == ("checkpoint", "ViT-B-32", "ViT-B-32")
    assert ckpt.path == tmp_path / "clip.safetensors"
    assert ckpt.describe() == "clip.safetensors (ViT-B-32)"
    with_json = ClipSpec.parse("weights.pt", config="arch.json")
    assert with_json.kind == "checkpoint" and with_json.name is None
    assert with_json.describe() == "weights.pt (arch.json)"
    assert ClipSpec.parse(r"C:\models\clip.bin").kind == "checkpoint"
    assert ClipSpec.parse(str(tmp_path)).kind == "checkpoint"        # an existing folder


@pytest.mark.parametrize("text, config, words", [
    ("ViT-B-32", None, "NAME:TAG"),
    ("ViT-B-32:", None, "NAME:TAG"),
    ("default", "ViT-B-32", "--clip-config goes with a checkpoint"),
    ("ViT-B-32:openai", "cfg.json", "--clip-config goes with a checkpoint"),
    ("hf-hub:laion/CLIP-ViT-B-32", None, "folder"),
])
def test_bad_specs_are_one_line_errors(text, config, words):
    with pytest.raises(ClipError, match=words) as info:
        ClipSpec.parse(text, config=config)
    assert "\n" not in str(info.value) and isinstance(info.value, StudioError)


def test_environment_is_offline_unless_the_user_chose(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    clip._prepare_environment()
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1"
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    clip._prepare_environment()
    assert os.environ["HF_HUB_OFFLINE"] == "0"


# ---------------------------------------------------------------------------------------------
# Scoring


def test_checkpoint_loads_through_the_real_path(scorer, tiny):
    assert scorer.input_size == 32 and scorer.device == torch.device("cpu")
    assert scorer.name == "weights.safetensors (config.json)"
    assert scorer.vocabulary() is None
    feats = scorer.encode_images(_images(5))
    assert feats.shape == (5, 32) and feats.dtype == torch.float32
    assert torch.allclose(feats.norm(dim=-1), torch.ones(5), atol=1e-5)


def test_scores_are_cosine_similarities(scorer, tiny):
    _, _, model = tiny
    images = _images(6)
    scores = scorer.score(images, "an impressionist painting of autumn trees")
    expected = _manual_features(model, images) @ _manual_text(model, "an impressionist painting of autumn trees")
    assert scores.shape == (6,)
    assert torch.allclose(scores, expected, atol=1e-5)
    assert bool(((scores >= -1) & (scores <= 1)).all())
    assert float(scores.max() - scores.min()) > 1e-3   # the images are told apart


def test_uint8_input_matches_float_input_and_open_clips_own_preprocessing(scorer):
    open_clip = clip.import_open_clip()
    images = _images(4)
    pixels = to_uint8(images)                           # [N, H, W, 3] as saved to PNG
    from_float, from_uint8 = scorer.encode_images(images), scorer.encode_images(pixels)
    assert (from_float * from_uint8).sum(-1).min() > 0.999
    # open_clip's PIL/torchvision transform of the same PNG pixels gives the same features
    transform = open_clip.image_transform(32, is_train=False)
    batch = torch.stack([transform(Image.fromarray(p)) for p in pixels])
    with torch.no_grad():
        reference = F.normalize(scorer.model.encode_image(batch), dim=-1)
    assert (reference * from_uint8).sum(-1).min() > 0.995
    single = scorer.encode_images(pixels[0])            # one [H, W, 3] image
    assert torch.allclose(single[0], from_uint8[0], atol=1e-6)


def test_batched_equals_unbatched(scorer):
    images = _images(7, size=40)
    scorer.batch_size = 32
    together = scorer.encode_images(images)
    scorer.batch_size = 3
    in_threes = scorer.encode_images(images)
    one_by_one = torch.cat([scorer.encode_images(images[i:i + 1]) for i in range(7)])
    assert torch.allclose(together, in_threes, atol=1e-5)
    assert torch.allclose(together, one_by_one, atol=1e-5)
    assert scorer.encode_images(images[:0]).shape == (0, 32)


def test_text_embeddings_are_cached(scorer, monkeypatch):
    calls = []
    encode = scorer.model.encode_text

    def counting(tokens, *args, **kwargs):
        calls.append(tokens.shape[0])
        return encode(tokens, *args, **kwargs)

    monkeypatch.setattr(scorer.model, "encode_text", counting)
    first = scorer.encode_text(["a red sky", "a blue sea"])
    again = scorer.encode_text(["a blue sea", "a red sky", "a blue sea"])
    assert calls == [2]
    assert torch.equal(again[1], first[0]) and torch.equal(again[0], first[1])
    scorer.score(_images(2), "a red sky", negative="a green field")
    assert calls == [2, 1]                                # only the new prompt is encoded
    assert torch.allclose(first.norm(dim=-1), torch.ones(2), atol=1e-5)


def test_negative_prompt_arithmetic(scorer):
    images = _images(5)
    feats = scorer.encode_images(images)
    pos, neg = scorer.encode_text(["autumn trees", "people"])
    plain = scorer.score(images, "autumn trees")
    both = scorer.score(images, "autumn trees", negative="people", negative_weight=0.5)
    assert torch.allclose(plain, feats @ pos, atol=1e-6)
    assert torch.allclose(both, feats @ pos - 0.5 * (feats @ neg), atol=1e-6)
    assert torch.allclose(scorer.score_features(feats, "autumn trees", "people"), feats @ pos - feats @ neg, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# The default CLIP


def test_default_clip_is_not_bundled_yet(monkeypatch, tmp_path):
    monkeypatch.setattr(clip, "DEFAULT_CLIP_DIR", tmp_path / "default-clip")
    with pytest.raises(ClipError) as info:
        load_clip("default")
    message = str(info.value)
    assert "not bundled" in message and "--clip NAME:TAG" in message and "\n" not in message
    (tmp_path / "default-clip").mkdir()
    (tmp_path / "default-clip" / "config.json").write_text(json.dumps(TINY_CONFIG))
    with pytest.raises(ClipError, match="weights.safetensors is missing"):
        load_clip("default")


def test_default_clip_works_once_the_folder_exists(monkeypatch, tmp_path):
    folder = tmp_path / "default-clip"
    _, _, model = make_tiny_clip(folder, seed=3)
    (folder / "vocabulary.txt").write_text("# words of the abstract-art captions\ncircle\nstripe\n\nred\n")
    monkeypatch.setattr(clip, "DEFAULT_CLIP_DIR", folder)
    scorer = load_clip(ClipSpec.parse("default"))
    assert scorer.name == "default CLIP" and scorer.vocabulary() == {"circle", "stripe", "red"}
    images = _images(3)
    expected = _manual_features(model, images) @ _manual_text(model, "red circle")
    assert torch.allclose(scorer.score(images, "red circle"), expected, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Checkpoints


def test_checkpoint_folder_and_config_beside_the_file(tiny, tmp_path):
    weights, _, model = tiny
    a = load_clip(str(weights))                        # config.json beside the weights
    b = load_clip(str(weights.parent))                 # the folder itself
    images = _images(2)
    assert torch.allclose(a.encode_images(images), b.encode_images(images))
    lonely = tmp_path / "lonely.safetensors"
    lonely.write_bytes(weights.read_bytes())
    with pytest.raises(ClipError, match="--clip-config"):
        load_clip(str(lonely))


def test_open_clip_config_json_with_preprocessing(tiny, tmp_path):
    weights, _, _ = tiny
    cfg = tmp_path / "open_clip_config.json"
    cfg.write_text(json.dumps({"model_cfg": TINY_CONFIG,
                               "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}}))
    scorer = load_clip(ClipSpec.parse(str(weights), config=str(cfg)))
    assert torch.allclose(scorer._mean.flatten(), torch.tensor([0.5, 0.5, 0.5]))


def test_torch_checkpoints_load_and_malicious_ones_are_refused(tiny, tmp_path):
    weights, cfg, model = tiny
    plain = tmp_path / "clip.pt"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, plain)
    scorer = load_clip(ClipSpec.parse(str(plain), config=str(cfg)))
    images = _images(2)
    assert torch.allclose(scorer.encode_images(images), _manual_features(model, images), atol=1e-5)

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.pt"
    torch.save({"visual.proj": Evil()}, evil)
    with pytest.raises(ClipError, match="refused") as info:
        load_clip(ClipSpec.parse(str(evil), config=str(cfg)))
    assert "nothing from it was run" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("content, words", [
    (b"", "cannot read"),
    (b"not a safetensors file at all", "cannot read"),
])
def test_damaged_weights_are_one_line_errors(tiny, tmp_path, content, words):
    _, cfg, _ = tiny
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(content)
    with pytest.raises(ClipError, match=words) as info:
        load_clip(ClipSpec.parse(str(bad), config=str(cfg)))
    assert "\n" not in str(info.value)


def test_architecture_mismatch_and_missing_files(tiny, tmp_path):
    weights, _, _ = tiny
    wider = dict(TINY_CONFIG, embed_dim=16)
    other = tmp_path / "wider.json"
    other.write_text(json.dumps(wider))
    with pytest.raises(ClipError, match="does not fit"):
        load_clip(ClipSpec.parse(str(weights), config=str(other)))
    with pytest.raises(ClipError, match="not found"):
        load_clip(ClipSpec.parse(str(tmp_path / "nope.safetensors"), config=str(other)))
    with pytest.raises(ClipError, match="not found"):
        load_clip(ClipSpec.parse(str(weights), config=str(tmp_path / "nope.json")))
    (tmp_path / "junk.json").write_text('{"hello": 1}')
    with pytest.raises(ClipError, match="not an open_clip model config"):
        load_clip(ClipSpec.parse(str(weights), config=str(tmp_path / "junk.json")))
    with pytest.raises(ClipError, match="no model named 'ViT-B-99'"):
        load_clip(ClipSpec.parse(str(weights), config="ViT-B-99"))


# ---------------------------------------------------------------------------------------------
# Pretrained tags (no network)


def test_uncached_pretrained_tag_offline_says_which_file_goes_where(no_network, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ClipError) as info:
        load_clip("ViT-B-32:laion2b_s34b_b79k")
    message = str(info.value)
    assert "ViT-B-32:laion2b_s34b_b79k" in message and "offline" in message
    assert "laion/CLIP-ViT-B-32-laion2B-s34B-b79K" in message and "open_clip_model.safetensors" in message
    assert str(clip.clip_cache_dir()) in message and "--clip FILE --clip-config ViT-B-32" in message
    assert "\n" not in message and no_network == []
    with pytest.raises(ClipError, match="--clip-config ViT-B-32-quickgelu"):   # OpenAI weights use QuickGELU
        load_clip("ViT-B-32:openai")


def test_unknown_names_and_tags(no_network):
    with pytest.raises(ClipError, match="no pretrained tag 'laion2b' for ViT-B-32; did you mean"):
        load_clip("ViT-B-32:laion2b")
    with pytest.raises(ClipError, match="no model named 'ViT-Q-1'"):
        load_clip("ViT-Q-1:openai")
    assert no_network == []


def test_failed_download_online_is_one_line(no_network, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    with pytest.raises(ClipError, match="could not download the weights of CLIP ViT-B-32:openai") as info:
        load_clip("ViT-B-32:openai")
    assert "\n" not in str(info.value)


def test_cached_pretrained_tag_loads_offline(tiny, no_network, monkeypatch):
    """A tag whose file sits in the Hugging Face cache layout loads with the network blocked."""
    open_clip = clip.import_open_clip()
    weights, cfg, model = tiny
    name = "studio-test-tiny-pretrained"
    registered = cfg.parent / f"{name}.json"
    registered.write_text(cfg.read_text())
    open_clip.add_model_config(registered)
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, name, {
        "tiny": {"url": "", "hf_hub": "studio-test/tiny-clip/", "mean": open_clip.OPENAI_DATASET_MEAN,
                 "std": open_clip.OPENAI_DATASET_STD, "interpolation": "bicubic", "resize_mode": "shortest"}})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ClipError, match="studio-test/tiny-clip"):
        load_clip(f"{name}:tiny")
    repo = clip.clip_cache_dir() / "models--studio-test--tiny-clip"
    snapshot = repo / "snapshots" / "0123456789abcdef0123456789abcdef01234567"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123456789abcdef0123456789abcdef01234567")
    (snapshot / "open_clip_model.safetensors").write_bytes(weights.read_bytes())
    scorer = load_clip(f"{name}:tiny")
    images = _images(3)
    assert scorer.name == f"{name} (tiny)"
    assert torch.allclose(scorer.encode_images(images), _manual_features(model, images), atol=1e-5)
    assert no_network == []


def test_load_clip_device_errors_are_clip_errors(tiny):
    weights, cfg, _ = tiny
    with pytest.raises(ClipError, match="unknown device"):
        load_clip(ClipSpec.parse(str(weights), config=str(cfg)), device="tpu")


def test_encode_images_rejects_wrong_shapes(scorer):
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        scorer.encode_images(torch.zeros(2, 64, 64, 3))
    with pytest.raises(ValueError, match=r"\[N, H, W, 3\]"):
        scorer.encode_images(np.zeros((2, 3, 64, 64), np.uint8))


def test_a_wide_picture_is_scored_whole_in_square_crops(scorer):
    """CLIP sees only a centre square; a 3:1 panorama is three crops side by side, averaged."""
    rng = np.random.default_rng(0)
    wide = rng.integers(0, 256, (1, 64, 192, 3), dtype=np.uint8)
    crops = [scorer.encode_images(wide[:, :, i * 64:(i + 1) * 64]) for i in range(3)]
    mean = torch.nn.functional.normalize(sum(crops), dim=-1)
    assert torch.allclose(scorer.encode_images(wide), mean, atol=1e-5)
    centre_only = scorer.encode_images(wide[:, :, 64:128])
    assert not torch.allclose(scorer.encode_images(wide), centre_only, atol=1e-3)
    square = wide[:, :, :70]                                  # nearly square: the model's own preprocessing
    assert scorer._square_crops(torch.from_numpy(square))[0].shape == square.shape
