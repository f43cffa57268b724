"""Training StyleGAN3 (-T and -R): fresh runs, fine-tuning an NVIDIA StyleGAN3 pickle, exact resume."""

from __future__ import annotations

import json

import pytest
import torch

from studio.gan.formats import load_network
from studio.gan.networks.stylegan3 import Stylegan3Generator
from studio.training.options import TrainingOptions
from studio.training.stylegan3 import Stylegan3Family
from studio.training.trainer import Trainer, train
from tests.training.test_trainer import draw_dataset


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return draw_dataset(tmp_path_factory.mktemp("data") / "shapes", count=8, res=32)


@pytest.fixture(scope="module")
def data64(tmp_path_factory):
    return draw_dataset(tmp_path_factory.mktemp("data64") / "shapes", count=8, res=64)


def sg3_options(data, run_dir, **overrides) -> TrainingOptions:
    settings = dict(data=str(data), run_dir=str(run_dir), kimg=0.008, batch=4, tick_kimg=0.004, snap=1,
                    preset="stylegan3-t", channel_base=512, channel_max=16, w_dim=16, z_dim=16, workers=0, grid=4,
                    r1_interval=2, device="cpu", metrics=False)
    settings.update(overrides)
    return TrainingOptions(**settings)


@pytest.mark.parametrize("preset", ["stylegan3-t", "stylegan3-r"])
def test_a_fresh_stylegan3_trains_with_its_own_recipe_and_opens(data, tmp_path, preset):
    run_dir = tmp_path / "run"
    events: list[dict] = []
    trainer = Trainer(sg3_options(data, run_dir, preset=preset))
    assert isinstance(trainer.family, Stylegan3Family)
    opts = trainer.options
    assert (opts.style_mix, opts.pl_weight, opts.blur_sigma, opts.blur_kimg) == (0.0, 0.0, 10.0, 4 * 200 / 32)
    result = train(sg3_options(data, run_dir, preset=preset), event_fn=events.append)
    assert result.reason == "finished" and result.nimg == 8
    assert any(e["event"] == "log" and e["message"].startswith("StyleGAN3 32x32 px") for e in events)
    stats = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor(s["loss_G"])) and torch.isfinite(torch.tensor(s["loss_D"])) for s in stats)
    net = load_network(result.snapshot)
    assert isinstance(net.G, Stylegan3Generator) and net.D.config.architecture == "orig"
    assert net.G.config.variant == preset
    # the layers tracked their input magnitude while training (they start at 1)
    mags = [float(layer.magnitude_ema) for layer in net.G.synthesis.layers()]
    assert any(abs(m - 1.0) > 1e-6 for m in mags)
    with torch.no_grad():
        assert torch.isfinite(net.G(torch.randn(2, net.G.z_dim))).all()


def test_fine_tuning_a_stylegan3_pickle_and_resuming_it_exactly(sg3_model, data64, tmp_path):
    """The golden 64 px -T pickle fine-tunes with any preset (the file decides the family) and resumes bit-exactly."""
    run_dir = tmp_path / "run"
    options = dict(preset="default-abstract", resume=str(sg3_model), channel_base=None, channel_max=None, w_dim=None,
                   z_dim=None, kimg=0.016)
    first = Trainer(sg3_options(data64, run_dir, **options))
    assert isinstance(first.family, Stylegan3Family)
    first.setup()
    assert first.transfer_from == sg3_model
    start = {k: v.clone() for k, v in first.G.state_dict().items()}
    first.step()
    first.step()
    assert any(not torch.equal(start[k], v) for k, v in first.G.state_dict().items())
    path = first.write_snapshot()

    again = Trainer(sg3_options(data64, run_dir, **{**options, "resume": "latest"}))
    assert isinstance(again.family, Stylegan3Family)
    again.setup()
    assert again.resumed_from == path and again.nimg == first.nimg
    for a, b in ((first.G_ema, again.G_ema), (first.G, again.G), (first.D, again.D)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    result = train(sg3_options(data64, run_dir, **{**options, "resume": "latest"}))
    assert result.nimg == 16 and load_network(result.snapshot).kind == "stylegan3"


def test_a_stylegan2_snapshot_is_not_continued_as_stylegan3(data, tmp_path, tiny_model):
    from studio.core.errors import StudioError

    with pytest.raises(StudioError, match="StyleGAN3 network"):
        Trainer(sg3_options(data, tmp_path / "run", resume=str(tiny_model))).setup()
