"""Training and publishing the bundled default generator (with tiny stand-ins for its sizes)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.data.procedural import FAMILIES
from studio.gan.formats import load_network
from studio.gan.formats.native import save_native
from studio.gan.networks import DiscriminatorConfig, GeneratorConfig, make_generator
from studio.gan.networks.stylegan2 import Discriminator
from studio.training import default_model
from tests.clip_fixtures import make_tiny_clip


@pytest.fixture
def small_default(monkeypatch, tmp_path):
    """The default model's recipe at 16 px and 12 paintings, bundled files in tmp folders."""
    monkeypatch.setattr(default_model, "TRAINING_IMAGES", 12)
    monkeypatch.setattr(default_model, "RESOLUTION", 16)
    monkeypatch.setattr(default_model, "TRAINING_DEFAULTS",
                        dict(default_model.TRAINING_DEFAULTS, preset="small", batch=4, tick_kimg=0.004, snap=1,
                             kimg=0.008, metrics=False))
    committed = tmp_path / "models" / "training" / "default-abstract-resume.safetensors"
    monkeypatch.setattr(default_model, "resume_snapshot_path", lambda: committed)
    monkeypatch.setattr(default_model, "published_path", lambda: committed.parent.parent / "default-abstract.safetensors")
    return committed


def tiny_default_snapshot(folder, training_state: dict):
    """A 16 px stand-in for a default-model snapshot (six families, with D) in ``folder``."""
    torch.manual_seed(0)
    G = make_generator(GeneratorConfig(z_dim=16, w_dim=16, c_dim=6, img_resolution=16, mapping_layers=1,
                                       channel_base=64, channel_max=16))
    D = Discriminator(DiscriminatorConfig(c_dim=6, img_resolution=16, channel_base=64, channel_max=16))
    snapshot = folder / "network-snapshot-000012.safetensors"
    save_native(snapshot, G, D, training_state=training_state)
    return snapshot


def test_training_set_is_painted_once_and_repainted_when_incomplete(small_default):
    calls = []
    folder = default_model.ensure_training_set(lambda stage, done, total: calls.append(done))
    assert calls[-1] == 12 and len(list(folder.rglob("*.png"))) == 12
    meta = json.loads((folder / "studio-dataset.json").read_text())
    assert meta["count"] == 12 and meta["label_names"][0] == "geometric"
    calls.clear()
    assert default_model.ensure_training_set(lambda *a: calls.append(a)) == folder and not calls
    (folder / "studio-dataset.json").unlink()               # an interrupted painting is redone
    default_model.ensure_training_set(lambda stage, done, total: calls.append(done))
    assert calls and (folder / "studio-dataset.json").is_file()


def test_overrides_leave_other_datasets_and_running_runs_alone(small_default, tmp_path):
    given = {"data": str(tmp_path / "mine"), "kimg": None}
    assert default_model.training_overrides(given, tmp_path / "runs") == (given, [])
    given = {"preset": "paper256", "data": None}
    assert default_model.training_overrides(given, tmp_path / "runs") == (given, [])
    options, notes = default_model.training_overrides({"batch": 8, "resume": "latest"}, tmp_path / "runs",
                                                      paintings="cached")
    assert options["batch"] == 8 and options["cond"] is True and options["resume"] == "latest"
    assert options["data"] == str(default_model.training_set_dir()) and "12 procedural" in notes[0]
    options, notes = default_model.training_overrides({"resume": "latest"}, tmp_path / "runs")
    assert options["data"] == "paintings:fresh" and "painted afresh" in notes[0]     # the default


def test_train_without_data_trains_the_default_then_continues_the_committed_snapshot(small_default, tmp_path):
    runs = tmp_path / "runs"
    assert main(["train", "--paintings", "cached", "--outdir", str(runs), "--seed", "1"]) == 0
    run = next(runs.iterdir())
    options = json.loads((run / "training_options.json").read_text())
    assert options["cond"] and options["data"] == str(default_model.training_set_dir())
    snapshot = sorted(run.glob("network-snapshot-*.safetensors"))[-1]
    assert load_network(snapshot).class_names == ["geometric", "grid", "colour field", "gestural", "radial",
                                                  "biomorphic"]
    # commit it as the resumable snapshot, then continue on a machine with no runs
    assert main(["publish-default", str(snapshot), "--resumable-only"]) == 0
    assert small_default.read_bytes() == snapshot.read_bytes()
    fresh = tmp_path / "elsewhere"
    shutil.rmtree(default_model.training_set_dir())              # a cleared cache is painted again on resume
    assert main(["train", "--outdir", str(runs), "--resume", "latest", "--kimg", "0.012"]) == 0
    assert (default_model.training_set_dir() / "studio-dataset.json").is_file()
    assert main(["train", "--outdir", str(fresh), "--resume", "latest", "--kimg", "0.016"]) == 0
    resumed = sorted(next(fresh.iterdir()).glob("network-snapshot-*.safetensors"))[-1]
    state = load_network(resumed).training_state
    assert state["nimg"] == 16 and state["train_seconds"] > 0 and state["hardware"][0].startswith("cpu")


def test_a_machine_without_runs_continues_the_published_weights_when_they_are_further_along(
        small_default, tmp_path, monkeypatch, capsys):
    import functools

    from safetensors import safe_open

    published = default_model.published_path()
    monkeypatch.setattr(default_model, "publish", functools.partial(
        default_model.publish, models_dir=published.parent, resources_dir=tmp_path / "res"))
    runs = tmp_path / "runs"
    assert main(["train", "--outdir", str(runs), "--seed", "1"]) == 0           # 8 images
    assert main(["publish-default", "latest", "--outdir", str(runs), "--resumable-only"]) == 0
    assert main(["train", "--outdir", str(runs), "--resume", "latest", "--kimg", "0.016"]) == 0
    assert main(["publish-default", "latest", "--outdir", str(runs), "--weights-only", "--fd-images", "8"]) == 0
    with safe_open(str(published), framework="pt") as f:       # counters and the CLIP head travel with it
        state = json.loads(f.metadata()["training_state"])
        heads = {f.get_slice(k).get_dtype() for k in f.keys() if k.startswith("Dclip.")}
    assert state["nimg"] == 16 and state["train_seconds"] > 0 and "optG" not in json.dumps(state)
    assert state["options"]["batch"] == 4 and not {"data", "run_dir"} & set(state["options"])   # no local paths
    assert heads == {"F16"}
    assert "continues from these weights" in (published.parent / "default-abstract.md").read_text()
    capsys.readouterr()
    fresh = tmp_path / "elsewhere"                  # published at 16 images, committed at 8: the weights win
    assert main(["train", "--outdir", str(fresh), "--resume", "latest", "--kimg", "0.024"]) == 0
    err = capsys.readouterr().err
    assert "continuing the published weights" in err and "committed snapshot is at 0.0 kimg" in err
    assert "Adam starts afresh" in err and "resumed from default-abstract-continue-16" in err
    run = next(fresh.iterdir())
    resumed = load_network(sorted(run.glob("network-snapshot-*.safetensors"))[-1]).training_state
    assert resumed["nimg"] == 24 and resumed["train_seconds"] > state["train_seconds"]
    # a committed snapshot further along than the weights wins again
    shutil.copyfile(sorted(run.glob("network-snapshot-*.safetensors"))[-1], small_default)
    options, notes = default_model.training_overrides({"resume": "latest"}, tmp_path / "third")
    assert options["resume"] == str(small_default) and "committed snapshot" in notes[-1]


def test_publish_weights_only_leaves_the_committed_snapshot_alone(small_default, tmp_path, monkeypatch):
    import functools

    from studio.clip import model as clip

    snapshot = tiny_default_snapshot(tmp_path, {"kimg": 12.0, "nimg": 12000, "options": {"batch": 8}})
    make_tiny_clip(tmp_path / "clip")
    monkeypatch.setattr(clip, "DEFAULT_CLIP_DIR", tmp_path / "clip")
    monkeypatch.setattr(default_model, "publish", functools.partial(
        default_model.publish, models_dir=tmp_path / "models", resources_dir=tmp_path / "res"))
    assert main(["publish-default", str(snapshot), "--weights-only", "--fd-images", "8"]) == 0
    assert (tmp_path / "models" / "default-abstract.safetensors").is_file()
    assert not small_default.exists()                   # the committed resumable snapshot was not touched
    assert main(["publish-default", str(snapshot), "--weights-only", "--resumable-only"]) == 2
    card = (tmp_path / "models" / "default-abstract.md").read_text()
    assert "12 procedural paintings" in card and "ADA (target" in card

    from studio.data.dataset import FRESH_PAINTINGS

    fresh = tiny_default_snapshot(tmp_path, {"kimg": 12.0, "nimg": 12000,
                                             "options": {"batch": 8, "data": FRESH_PAINTINGS, "aug": "noaug"}})
    assert main(["publish-default", str(fresh), "--weights-only", "--fd-images", "8"]) == 0
    card = (tmp_path / "models" / "default-abstract.md").read_text()
    assert "painted afresh for every image (seeds from 10,000,000)" in card and "no augmentation" in card
    assert "ADA (target" not in card


def test_publish_writes_half_precision_weights_samples_and_a_model_card(small_default, tmp_path, monkeypatch):
    from studio.clip import model as clip

    snapshot = tiny_default_snapshot(tmp_path, {"kimg": 12.0, "nimg": 12000, "p": 0.05, "train_seconds": 7200,
                                                "hardware": ["cpu (2 threads)"], "options": {"batch": 8}})
    make_tiny_clip(tmp_path / "clip")
    monkeypatch.setattr(clip, "DEFAULT_CLIP_DIR", tmp_path / "clip")
    small_default.parent.mkdir(parents=True)
    shutil.copyfile(snapshot, small_default)            # training goes on from the committed snapshot
    info = default_model.publish(snapshot, models_dir=tmp_path / "models", resources_dir=tmp_path / "res",
                                 fd_images=8, note="Still learning the shapes.")
    net = load_network(tmp_path / "models" / "default-abstract.safetensors")
    assert net.fingerprint == info["fingerprint"]
    assert net.D is not None and net.G.mapping.fc0.weight.dtype == torch.float32   # loads as float32
    from safetensors import safe_open

    with safe_open(str(tmp_path / "models" / "default-abstract.safetensors"), framework="pt") as f:
        stored = {f.get_slice(k).get_dtype() for k in f.keys() if k.startswith(("G_ema.", "D."))}
    assert stored == {"F16"}
    assert net.class_names[1] == "grid" and "triangles" in net.class_keywords["geometric"]
    assert Image.open(tmp_path / "res" / "default-abstract-samples.png").size == (4 * 16, 4 * (16 + 16))
    card = (tmp_path / "models" / "default-abstract.md").read_text()
    assert "12.0 kimg" in card and "2.0 h" in card and "cpu (2 threads)" in card
    assert "## Status\n\nStill learning the shapes." in card
    assert "or from the committed resumable snapshot (at 12.0 kimg)" in card
    assert f"{info['fd']['fd_clip']:.4f}" in card and info["fd"]["fd_clip"] > 0
    fd = info["fd"]                                     # how often the CLIP names the family asked for
    assert f"{100 * fd['family_generated']:.0f} % of the generated images" in card
    assert 0 <= fd["family_generated"] <= 1 and 0 <= fd["family_held_out"] <= 1
    assert fd["variety_painted"] > 0 and fd["edges_painted"] > 0 and f"ratio {fd['edges_ratio']:.2f}" in card

    # nothing is written when a part fails (here: no CLIP to measure with)
    monkeypatch.setattr(clip, "DEFAULT_CLIP_DIR", tmp_path / "no-clip")
    with pytest.raises(Exception, match="default CLIP"):
        default_model.publish(snapshot, models_dir=tmp_path / "m3", resources_dir=tmp_path / "r3", fd_images=8)
    assert not (tmp_path / "m3").exists() and not (tmp_path / "r3").exists()
    wrong = tmp_path / "wrong.safetensors"
    save_native(wrong, make_generator(GeneratorConfig(z_dim=16, w_dim=16, c_dim=2, img_resolution=16,
                                                      mapping_layers=1, channel_base=64, channel_max=16)))
    with pytest.raises(ValueError, match="not a default-model snapshot"):
        default_model.publish(wrong, models_dir=tmp_path / "m2", resources_dir=tmp_path / "r2")


def test_only_default_model_snapshots_replace_the_committed_one(small_default, tmp_path):
    from studio.training.options import TrainingOptions
    from studio.training.trainer import Trainer
    from tests.training.test_trainer import draw_dataset

    data = draw_dataset(tmp_path / "mine", count=8, res=16)
    trainer = Trainer(TrainingOptions(data=str(data), run_dir=str(tmp_path / "run"), preset="small", batch=4,
                                      workers=0, metrics=False, grid=0, kimg=0.004))
    trainer.setup()
    trainer.step()
    mine = trainer.write_snapshot()
    with pytest.raises(ValueError, match="not a default-model snapshot"):
        default_model.keep_resumable(mine)
    assert main(["publish-default", str(mine), "--resumable-only"]) == 2
    assert not small_default.exists()


def test_family_recognition_counts_the_images_whose_family_the_clip_names():
    """A stand-in CLIP that maps each description to its family's axis: images on family k's axis
    are named k; so the figure is the share of images whose family matches the one asked for."""
    from studio.training.clip_train import zero_shot_descriptions

    family_of = {text: FAMILIES.index(d["family"]) for text, d in zero_shot_descriptions()}

    class AxisClip:
        def encode_text(self, texts):
            return torch.nn.functional.one_hot(torch.tensor([family_of[t] for t in texts]), 6).float()

    features = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 3, 4, 5, 0, 0]), 6).float().numpy()
    asked = [0, 1, 2, 3, 4, 5, 1, 2]                      # the last two show geometric, not grid / colour field
    assert default_model._family_recognition(AxisClip(), features, asked) == pytest.approx(6 / 8)


def test_variety_and_edges_tell_alike_from_different_and_soft_from_crisp():
    import numpy as np

    rng = np.random.default_rng(0)
    same = np.tile(rng.normal(size=(1, 8)), (4, 1))
    different = rng.normal(size=(4, 8))
    families = [0, 0, 1, 1]
    assert default_model.family_variety(same, families) == pytest.approx(0, abs=1e-6)
    assert default_model.family_variety(different, families) > 0.5
    crisp = (np.indices((16, 16)).sum(0) // 2 % 2 * 255).astype(np.uint8)             # 2 px checks
    crisp = np.repeat(crisp[None, :, :, None], 3, axis=3)
    soft = crisp.astype(np.float32)
    soft = (soft + np.roll(soft, 1, 1) + np.roll(soft, 1, 2) + np.roll(soft, (1, 1), (1, 2))) / 4   # blurred
    assert default_model.edge_strength(crisp)[0] > 1.5 * default_model.edge_strength(soft.astype(np.uint8))[0]


def test_fresh_paintings_train_on_a_stream_that_never_repeats_and_resume(small_default, tmp_path, capsys):
    from studio.data.dataset import FRESH_PAINTINGS, PaintingStream
    from studio.data.procedural import paint

    stream = PaintingStream(16, start_seed=100, size=50)
    image, label = stream[7]
    assert torch.equal(image, torch.from_numpy(np.asarray(paint(107, 16).image.convert("RGB")).transpose(2, 0, 1).copy()))
    assert FAMILIES[int(label.argmax())] == paint(107, 16).family
    assert [int(stream.get_label(i).argmax()) for i in range(12)] == stream.class_indices()[:12].tolist()

    runs = tmp_path / "runs"
    assert main(["train", "--paintings", "fresh", "--data", str(tmp_path), "--outdir", str(runs)]) == 2
    assert main(["train", "--outdir", str(runs), "--seed", "1"]) == 0                  # fresh is the default
    assert not default_model.training_set_dir().exists()           # nothing painted ahead
    run = next(runs.iterdir())
    options = json.loads((run / "training_options.json").read_text())
    assert options["data"] == FRESH_PAINTINGS and options["cond"] and options["res"] == 16
    capsys.readouterr()
    assert main(["train", "--paintings", "cached", "--outdir", str(runs), "--resume", "latest", "--kimg", "0.016"]) == 0
    assert "--paintings cached is not used" in capsys.readouterr().err     # the run keeps its own
    state = load_network(sorted(run.glob("network-snapshot-*.safetensors"))[-1]).training_state
    assert state["nimg"] == 16 and state["options"]["data"] == FRESH_PAINTINGS
