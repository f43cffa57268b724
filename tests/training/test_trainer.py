"""The training loop: a few steps on tiny networks and a tiny drawn dataset.

Networks are a few tens of thousands of parameters (32 px, 8-32 channels) so the whole file
runs in well under a minute on two CPU cores.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from studio.core.errors import StudioError
from studio.training.options import TrainingError, TrainingOptions
from studio.training.runs import STOP_FILE, find_latest_snapshot
from studio.training.trainer import Trainer, train

ROOT = Path(__file__).resolve().parents[2]
EVENTS = {"progress", "preview", "snapshot", "metric", "log", "error", "done"}


def draw_dataset(dest: Path, count: int = 24, res: int = 32, classes: int = 2) -> Path:
    """Coloured ellipses and rectangles on plain grounds, in the prepared layout with labels."""
    from PIL import Image, ImageDraw

    (dest / "00000").mkdir(parents=True)
    labels = []
    for i in range(count):
        rng = random.Random(i)
        image = Image.new("RGB", (res, res), tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        for _ in range(3):
            x, y = rng.randrange(res), rng.randrange(res)
            box = [x, y, x + rng.randrange(4, res // 2), y + rng.randrange(4, res // 2)]
            colour = tuple(rng.randrange(256) for _ in range(3))
            (draw.ellipse if i % 2 else draw.rectangle)(box, fill=colour)
        name = f"00000/img{i:08d}.png"
        image.save(dest / name)
        labels.append([name, i % classes])
    (dest / "dataset.json").write_text(json.dumps({"labels": labels}))
    return dest


def tiny_options(data: Path, run_dir: Path, **overrides) -> TrainingOptions:
    settings = dict(
        data=str(data), run_dir=str(run_dir), kimg=0.016, batch=4, tick_kimg=0.008, snap=1, preset="small",
        channel_base=256, channel_max=32, w_dim=32, z_dim=32, mapping_layers=2, workers=0, grid=4,
        r1_interval=2, pl_weight=2.0, pl_interval=2, device="cpu",
    )
    settings.update(overrides)
    return TrainingOptions(**settings)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny networks run fastest on one thread (and do not fight parallel test runs for cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return draw_dataset(tmp_path_factory.mktemp("data") / "shapes")


@pytest.fixture(scope="module")
def finished_run(data, tmp_path_factory):
    """4 steps of 4 images, a tick every 2 steps, a snapshot every tick."""
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    events: list[dict] = []
    result = train(tiny_options(data, run_dir), event_fn=events.append)
    return result, events, run_dir


def test_few_steps_finite_losses_and_a_loadable_snapshot(finished_run):
    from studio.gan.formats import load_network

    result, events, run_dir = finished_run
    assert result.reason == "finished" and result.nimg == 16
    kinds = [e["event"] for e in events]
    assert set(kinds) <= EVENTS and kinds[-1] == "done"
    assert json.loads(json.dumps(events)) == events          # JSON-safe
    stats = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    assert [s["nimg"] for s in stats] == [8, 16]
    for s in stats:
        for key in ("loss_G", "loss_D", "loss_r1", "loss_pl"):
            assert torch.isfinite(torch.tensor(s[key])), (key, s)
    snapshot = find_latest_snapshot(run_dir)
    assert snapshot == result.snapshot and snapshot.name == "network-snapshot-000000.safetensors"
    assert [e["path"] for e in events if e["event"] == "snapshot"] == [str(snapshot)] * 2
    net = load_network(snapshot)
    assert net.training_state["nimg"] == 16 and net.D is not None
    with torch.no_grad():
        image = net.G(torch.randn(2, net.G.z_dim), None)
    assert image.shape == (2, 3, 32, 32) and torch.isfinite(image).all()
    for name in ("reals.png", "preview-000000.png", "training_options.json"):
        assert (run_dir / name).is_file(), name
    assert TrainingOptions.load(run_dir).kimg == pytest.approx(0.016)


def test_resume_restores_counters_p_optimiser_and_ema_exactly(data, tmp_path):
    opts = tiny_options(data, tmp_path / "run", aug="ada", ada_interval=1, ada_kimg=0.02, p=0.3, pl_weight=0)
    first = Trainer(opts)
    first.setup()
    for _ in range(3):
        first.step()
    assert first.p != 0.3                                    # ADA moved p
    path = first.write_snapshot()

    again = Trainer(tiny_options(data, tmp_path / "run", aug="ada", ada_interval=1, ada_kimg=0.02, resume="latest",
                                 pl_weight=0))
    again.setup()
    assert again.resumed_from == path
    assert (again.nimg, again.step_count, again.tick) == (first.nimg, first.step_count, first.tick)
    assert again.p == first.p and again.controller.state_dict() == first.controller.state_dict()
    for a, b in ((first.G_ema, again.G_ema), (first.G, again.G), (first.D, again.D)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)     # bit-identical
    for opt_a, opt_b, mod_a, mod_b in ((first.opt_G, again.opt_G, first.G, again.G),
                                       (first.opt_D, again.opt_D, first.D, again.D)):
        for pa, pb in zip(mod_a.parameters(), mod_b.parameters()):
            for key in ("exp_avg_sq", "step"):
                assert torch.equal(opt_a.state[pa][key].cpu(), opt_b.state[pb][key].cpu())
        # The first moment is not stored (beta1 = 0 overwrites it), yet the next update is the same.
        g = torch.Generator().manual_seed(5)
        for pa, pb in zip(mod_a.parameters(), mod_b.parameters()):
            pa.grad = torch.randn(pa.shape, generator=g)
            pb.grad = pa.grad.clone()
        opt_a.step()
        opt_b.step()
        assert all(torch.equal(pa, pb) for pa, pb in zip(mod_a.parameters(), mod_b.parameters()))
    again.step()
    assert again.nimg == first.nimg + 4

    # The front door continues the run to its end from the same counters.
    events: list[dict] = []
    result = train(tiny_options(data, tmp_path / "run", resume="latest", kimg=0.016, pl_weight=0), event_fn=events.append)
    assert result.nimg == 16
    assert events[-1]["event"] == "done" and events[-1]["nimg"] == 16
    assert any("resumed" in e.get("message", "") for e in events if e["event"] == "log")


def test_stop_file_stops_gracefully_with_a_snapshot(data, tmp_path):
    run_dir = tmp_path / "run"
    calls = []

    def progress(kimg, total):
        calls.append(kimg)
        (run_dir / STOP_FILE).touch()

    events: list[dict] = []
    result = train(tiny_options(data, run_dir, kimg=1.0, pl_weight=0), progress_fn=progress, event_fn=events.append)
    assert result.reason == "stopped" and result.nimg == 4 and calls == [0.004]
    assert result.snapshot is not None and result.snapshot.is_file()
    assert not (run_dir / STOP_FILE).exists()
    assert events[-1] == {"event": "done", "reason": "stopped", "kimg": 0.004, "nimg": 4,
                          "snapshot": str(result.snapshot), "run_dir": str(run_dir)}


def _worker(args: list[str], **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "studio.training", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120, **kw)


def test_worker_prints_json_lines(data, tmp_path):
    run_dir = tmp_path / "run"
    options_file = tmp_path / "options.json"
    tiny_options(data, run_dir, kimg=0.008, pl_weight=0).save(options_file)
    proc = _worker(["--run-dir", str(run_dir), "--options-json", str(options_file)])
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {e["event"] for e in events} <= EVENTS
    assert events[-1]["event"] == "done" and events[-1]["reason"] == "finished"
    progress = [e for e in events if e["event"] == "progress"]
    assert progress and {"kimg", "total_kimg", "fraction", "images_per_s", "loss_G", "loss_D", "p"} <= set(progress[-1])
    snapshot = [e for e in events if e["event"] == "snapshot"][-1]
    assert Path(snapshot["path"]).is_file() and Path(snapshot["preview"]).is_file()

    # A failure is an error event and a non-zero exit, not a traceback on stdout.
    tiny_options(tmp_path / "missing", run_dir).save(options_file)
    proc = _worker(["--run-dir", str(run_dir), "--options-json", str(options_file)])
    assert proc.returncode == 1
    (error,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert error["event"] == "error" and "missing" in error["message"]


KILL_SCRIPT = r"""
import os, signal, sys
import studio.gan.formats.native as native
from studio.training.options import TrainingOptions
from studio.training import train

written = []
real_save = native.save_file

def save_then_die(tensors, path, metadata=None):
    if written:                      # the second snapshot: half a file, then SIGKILL
        real_save(tensors, path, metadata=metadata)
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(size // 2)
        os.kill(os.getpid(), signal.SIGKILL)
    written.append(path)
    real_save(tensors, path, metadata=metadata)

native.save_file = save_then_die
train(TrainingOptions.load(sys.argv[1]))
"""


def test_sigkill_during_snapshot_write_keeps_the_previous_snapshot(data, tmp_path):
    from studio.gan.formats import load_network

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    tiny_options(data, run_dir, kimg=0.016, pl_weight=0, grid=0).save()
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(run_dir)], env=env, cwd=ROOT, timeout=120,
                          capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    snapshots = sorted(p.name for p in run_dir.glob("network-snapshot-*"))
    assert snapshots == ["network-snapshot-000000.safetensors"]   # no partial file under a snapshot name
    assert list(run_dir.glob(".*.tmp"))                               # the killed writer's temp file
    net = load_network(run_dir / snapshots[0])
    assert net.training_state["nimg"] == 8                            # the first snapshot, intact

    # Resuming cleans up the stray temp file and continues from the intact snapshot.
    trainer = Trainer(TrainingOptions.load(run_dir))
    trainer.options.resume = "latest"
    trainer.setup()
    assert trainer.nimg == 8 and not list(run_dir.glob(".*.tmp"))


def test_transfer_learning_checks_resolution_and_starts_from_the_weights(data, tmp_path):
    from studio.gan.formats.native import save_native
    from studio.gan.networks import Discriminator, DiscriminatorConfig, GeneratorConfig, make_generator

    small = dict(z_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32)
    G64 = make_generator(GeneratorConfig(img_resolution=64, **small))
    save_native(tmp_path / "net64.safetensors", G64)
    logs: list[dict] = []
    adapted = Trainer(tiny_options(data, tmp_path / "a", resume=str(tmp_path / "net64.safetensors")),
                      event_fn=logs.append)
    adapted.setup()                                   # 32 px pictures, a 64 px network: resized as they are read
    assert adapted.resolution == 64 and adapted._next_reals()[0].shape[-1] == 64
    assert any("resized to 64 px as they are read" in e.get("message", "") for e in logs)
    with pytest.raises(TrainingError, match=r"makes 64x64 images but the dataset is 32x32"):
        Trainer(tiny_options(data, tmp_path / "a2", resume=str(tmp_path / "net64.safetensors"), res=32)).setup()

    G32 = make_generator(GeneratorConfig(img_resolution=32, **small))
    D32 = Discriminator(DiscriminatorConfig(img_resolution=32, channel_base=256, channel_max=32))
    save_native(tmp_path / "net32.safetensors", G32, D32)
    trainer = Trainer(tiny_options(data, tmp_path / "b", resume=str(tmp_path / "net32.safetensors"), freeze_d=1))
    trainer.setup()
    assert trainer.nimg == 0 and trainer.transfer_from is not None
    assert all(torch.equal(a, b) for a, b in zip(trainer.G_ema.state_dict().values(), G32.state_dict().values()))
    frozen = trainer.D.b32.conv0.weight.detach().clone()
    trainer.step()
    assert torch.equal(trainer.D.b32.conv0.weight, frozen)             # FreezeD kept the first block
    assert not torch.equal(trainer.D.b4.out.weight, D32.b4.out.weight)  # the rest trains

    cond = Trainer(tiny_options(data, tmp_path / "c", resume=str(tmp_path / "net32.safetensors"), cond=True))
    with pytest.raises(TrainingError, match="classes"):
        cond.setup()


def test_conditional_training(data, tmp_path):
    trainer = Trainer(tiny_options(data, tmp_path / "run", cond=True, pl_weight=0, grid=0))
    trainer.setup()
    assert trainer.G.c_dim == 2 and trainer.D.c_dim == 2
    trainer.step()
    assert trainer.write_snapshot().is_file()
    assert not list((tmp_path / "run").glob("preview-*.png"))      # grid 0: no preview grid


def test_discriminator_blur_follows_the_schedule_and_survives_resume(data, tmp_path):
    """Early on D judges blurred images (composition before texture); the blur fades with kimg."""
    from studio.training.augment import gaussian_blur

    trainer = Trainer(tiny_options(data, tmp_path / "run", blur_sigma=4.0, blur_kimg=0.016, pl_weight=0, aug="noaug"))
    trainer.setup()
    assert trainer.blur_sigma() == 4.0
    reals, _ = trainer._next_reals()
    with torch.no_grad():
        seen_by_D = trainer.loss.run_D(reals, None, trainer.blur_sigma())
        assert torch.allclose(seen_by_D, trainer.D(gaussian_blur(reals, 4.0)), atol=1e-5)
        assert not torch.allclose(seen_by_D, trainer.D(reals), atol=1e-3)
    trainer.step()
    trainer.step()
    assert trainer.blur_sigma() == pytest.approx(4.0 * (1 - 0.008 / 0.016))
    snapshot = trainer.write_snapshot()
    resumed = Trainer(tiny_options(data, tmp_path / "run", resume=str(snapshot), blur_sigma=4.0, blur_kimg=0.016,
                                   pl_weight=0, aug="noaug"))
    resumed.setup()
    assert resumed.blur_sigma() == trainer.blur_sigma()
    resumed.step()
    resumed.step()
    assert resumed.blur_sigma() == 0.0                       # faded out: D sees the images as they are
    with torch.no_grad():
        assert torch.equal(resumed.loss.run_D(reals, None, resumed.blur_sigma()), resumed.D(reals))


def test_mode_seeking_loss_punishes_collapse_and_ignores_pixel_noise():
    """Two latents giving one picture cost most; a checkerboard of pixel noise is not a new picture."""
    from studio.training.losses import mode_seeking_loss

    torch.manual_seed(0)
    z1, z2 = torch.randn(4, 32), torch.randn(4, 32)
    def picture():                                                 # large masses of colour
        return torch.nn.functional.interpolate(torch.rand(4, 3, 4, 4) - 0.5, size=64, mode="bilinear")

    a, b = picture(), picture()
    checker = (torch.arange(64)[:, None] + torch.arange(64)[None]) % 2 * 0.4 - 0.2
    collapsed = mode_seeking_loss(a, a, z1, z2)
    noisy = mode_seeking_loss(a, a + checker, z1, z2)
    varied = mode_seeking_loss(a, b, z1, z2)
    assert varied < 10 and noisy > 100 * varied and collapsed > 100 * varied
    # The generator feels it: the gradient pushes the second image away from the first.
    b2 = a.clone().add_(0.01 * torch.randn_like(a)).requires_grad_(True)
    mode_seeking_loss(a, b2, z1, z2).backward()
    with torch.no_grad():
        moved = mode_seeking_loss(a, b2 - 1e-3 * b2.grad.sign(), z1, z2)
        assert moved < mode_seeking_loss(a, b2, z1, z2)


def test_conditional_batches_fill_each_minibatch_std_group_with_one_class(data, tmp_path):
    """Images i, i + 2, i + 4, i + 6 of a batch of 8 meet in D's minibatch std: one class each,
    so a generator drawing one picture per class cannot hide behind the other classes."""
    trainer = Trainer(tiny_options(data, tmp_path / "run", cond=True, batch=8, pl_weight=0))
    trainer.setup()
    assert trainer.class_groups
    seen = set()
    for _ in range(12):
        _, c = trainer._next_reals()
        labels = c.argmax(1).view(4, 2)                           # [member, group]
        assert (labels == labels[0]).all()
        seen.update(labels[0].tolist())
    assert seen == {0, 1}                                         # both classes come up
    trainer.step()
    unconditional = Trainer(tiny_options(data, tmp_path / "u", batch=8))
    unconditional.setup()
    assert not unconditional.class_groups


def test_mode_seeking_pairs_share_labels_and_steer_G(data, tmp_path):
    trainer = Trainer(tiny_options(data, tmp_path / "run", cond=True, pl_weight=0, mode_seeking=1.0, style_mix=0))
    trainer.setup()
    seen = []
    run_G = trainer.loss.run_G
    trainer.loss.run_G = lambda z, c, **kw: (seen.append(c), run_G(z, c, **kw))[1]
    for _ in range(3):
        trainer.step()
    labels = seen[0].argmax(1)
    assert torch.equal(labels[:2], labels[2:])                      # pairs of latents share a family
    assert trainer.last_losses["loss_ms"] > 0 and "loss_ms" in trainer.take_tick_stats()
    with pytest.raises(ValueError, match="mode_seeking"):
        tiny_options(data, tmp_path / "bad", mode_seeking=-1.0).validate()


def test_fine_tuning_a_conditional_network_on_unlabelled_images_trains_one_class(data, tmp_path):
    """The default model is conditional; an artist's folder has no labels: all of it becomes one class."""
    from studio.gan.formats.native import save_native
    from studio.gan.networks import Discriminator, DiscriminatorConfig, GeneratorConfig, make_generator

    G = make_generator(GeneratorConfig(img_resolution=32, c_dim=3, z_dim=32, w_dim=32, mapping_layers=2,
                                       channel_base=256, channel_max=32))
    D = Discriminator(DiscriminatorConfig(img_resolution=32, c_dim=3, channel_base=256, channel_max=32))
    start = tmp_path / "families.safetensors"
    save_native(start, G, D, provenance={"class_names": ["a", "b", "c"]})
    events = []
    trainer = Trainer(tiny_options(data, tmp_path / "run", resume=str(start), as_class=2, pl_weight=0),
                      event_fn=events.append)
    trainer.setup()
    assert trainer.c_dim == 3 and any("every image trains class 2" in e.get("message", "") for e in events)
    _, c = trainer._next_reals()
    assert c.shape == (4, 3) and c.argmax(1).tolist() == [2, 2, 2, 2]
    trainer.step()
    snapshot = trainer.write_snapshot()
    from studio.gan.formats import load_network

    assert load_network(snapshot).class_names == ["a", "b", "c"]        # the starting network's classes
    resumed = Trainer(tiny_options(data, tmp_path / "run", resume=str(snapshot), as_class=2, pl_weight=0))
    resumed.setup()                                   # the snapshot resumes the same way
    assert resumed.nimg == trainer.nimg and resumed.fixed_label.argmax().item() == 2
    with pytest.raises(TrainingError, match="classes 0-2; --as-class 5"):
        Trainer(tiny_options(data, tmp_path / "bad", resume=str(start), as_class=5)).setup()
    labelled = draw_dataset(tmp_path / "labelled", count=8, classes=3)   # labels, but no --cond
    with pytest.raises(TrainingError, match="has labels: add --cond.*or --as-class K"):
        Trainer(tiny_options(labelled, tmp_path / "l", resume=str(start))).setup()


def test_cli_train_and_resume_latest(data, tmp_path, capsys):
    from studio.cli import main

    outdir = tmp_path / "runs"
    args = ["train", "--data", str(data), "--outdir", str(outdir), "--kimg", "0.004", "--batch", "4",
            "--preset", "small", "--tick", "0.004", "--workers", "0", "--device", "cpu", "--mirror",
            "--blur-sigma", "3", "--blur-kimg", "50"]
    assert main(args) == 0
    run = outdir / "00000-shapes-small"
    assert find_latest_snapshot(run) is not None
    saved = TrainingOptions.load(run)
    assert saved.mirror is True and (saved.blur_sigma, saved.blur_kimg) == (3, 50)
    assert "D blur 3 px, none from 50 kimg" in capsys.readouterr().err
    assert main(["train", "--outdir", str(outdir), "--resume", "latest", "--kimg", "0.008"]) == 0
    assert not (outdir / "00001-shapes-small").exists()
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert [s["nimg"] for s in stats] == [4, 8]
    assert main(["train", "--outdir", str(outdir), "--preset", "paper256"]) == 2   # no data: only the
    assert "--data is needed" in capsys.readouterr().err                               # default model paints its own
    blocked = tmp_path / "a-file"        # an --outdir that cannot be made (as on a read-only disk)
    blocked.write_text("")
    assert main(["train", "--data", str(data), "--outdir", str(blocked / "runs"), "--kimg", "0.008"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot create a run folder in {blocked / 'runs'}: ") and err.count("\n") == 1


def test_a_full_disk_at_a_snapshot_keeps_the_last_good_one(data, tmp_path, monkeypatch):
    import studio.gan.formats.native as native

    real_save, calls = native.save_native, []

    def full_the_second_time(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_save(path, *args, **kwargs)

    monkeypatch.setattr(native, "save_native", full_the_second_time)
    events: list[dict] = []
    result = train(tiny_options(data, tmp_path / "run", kimg=0.024, pl_weight=0), event_fn=events.append)
    warnings = [e["message"] for e in events if e["event"] == "log" and e.get("level") == "warning"]
    assert any(f"could not write {calls[1].name} (No space left on device); the last good snapshot is still "
               f"{calls[0].name}" in w for w in warnings)
    assert result.reason == "finished" and result.snapshot == calls[2] and len(calls) == 3
    left = {p.name for p in (tmp_path / "run").glob("*network-snapshot*")}
    assert left == {calls[0].name, calls[2].name}                 # nothing half-written left behind


def test_two_processes_under_torchrun_stay_in_sync(data, tmp_path):
    """`studio train --gpus 2` on CPU: gloo, gradients all-reduced, one snapshot from rank 0."""
    from studio.app.runs import torchrun_command, worker_env

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    tiny_options(data, run_dir, batch=8, kimg=0.016, aug="ada", ada_interval=1, ada_kimg=0.02).save()
    env = dict(worker_env(), OMP_NUM_THREADS="1")
    proc = subprocess.run(torchrun_command(run_dir, 2), capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    done = events[-1]
    assert done["event"] == "done" and done["nimg"] == 16
    assert done["processes"] == 2 and done["ranks_in_sync"] is True
    assert sum(e["event"] == "done" for e in events) == 1              # only rank 0 reports
    assert sorted(p.name for p in run_dir.glob("network-snapshot-*")) == ["network-snapshot-000000.safetensors"]


def test_worker_stops_gracefully_on_sigterm(data, tmp_path):
    import signal

    run_dir = tmp_path / "run"
    options_file = tmp_path / "options.json"
    tiny_options(data, run_dir, kimg=10.0, pl_weight=0).save(options_file)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "studio.training", "--run-dir", str(run_dir),
                             "--options-json", str(options_file)], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    events = []
    try:
        for line in proc.stdout:
            events.append(json.loads(line))
            if events[-1]["event"] == "progress":
                proc.send_signal(signal.SIGTERM)
                break
        events += [json.loads(line) for line in proc.stdout]
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    done = events[-1]
    assert done["event"] == "done" and done["reason"] == "stopped" and 0 < done["nimg"] < 10_000
    assert Path(done["snapshot"]).is_file()


# --------------------------------------------------------------------------------------------
# Metrics at snapshots (FD-CLIP / KID-CLIP with a tiny random CLIP)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    from tests.clip_fixtures import make_tiny_clip

    weights, config, _ = make_tiny_clip(tmp_path_factory.mktemp("clip"))
    return weights, config


def test_clip_discriminator_trains_its_head_steers_G_and_resumes(data, tmp_path, tiny_clip):
    """A second discriminator on the frozen CLIP's features: its head learns, G feels it, snapshots keep it."""
    from tests.clip_fixtures import TINY_CONFIG, make_tiny_clip

    weights, config = tiny_clip
    opts = dict(cond=True, pl_weight=0, clip_d=1.0, clip=str(weights), clip_config=str(config), metrics=False)
    events: list[dict] = []
    trainer = Trainer(tiny_options(data, tmp_path / "run", **opts), event_fn=events.append)
    trainer.setup()
    assert any("CLIP discriminator (weight 1" in e.get("message", "") for e in events)
    clip_params = [p.detach().clone() for p in trainer.clip_d.scorer.model.parameters()]
    head = {k: v.clone() for k, v in trainer.clip_d.state_dict().items()}
    trainer.step()
    assert {"loss_Gc", "loss_Dc", "Dc_real", "Dc_fake"} <= set(trainer.last_losses)
    assert any(not torch.equal(head[k], v) for k, v in trainer.clip_d.state_dict().items())   # the head learns
    assert all(torch.equal(a, b) for a, b in zip(clip_params, trainer.clip_d.scorer.model.parameters()))  # CLIP frozen
    # G's gradient includes the CLIP discriminator's: with a heavier weight it changes.
    z = torch.randn([4, trainer.G.z_dim])
    c = torch.nn.functional.one_hot(torch.tensor([0, 1, 0, 1]), 2).float()
    grads = []
    for weight in (0.0, 5.0):
        trainer.G.zero_grad(set_to_none=True)
        img = trainer.G(z, c, noise_mode="const")
        loss = torch.nn.functional.softplus(-trainer.D(img, c)).mean()
        loss = loss + weight * torch.nn.functional.softplus(-trainer.clip_d(img, c)).mean()
        loss.backward()
        grads.append(trainer.G.synthesis.b4.const.grad.clone())
    assert not torch.allclose(grads[0], grads[1])
    snapshot = trainer.write_snapshot()
    resumed = Trainer(tiny_options(data, tmp_path / "run", resume=str(snapshot), **opts))
    resumed.setup()
    a, b = trainer.clip_d.state_dict(), resumed.clip_d.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    resumed.step()
    # Another CLIP (other feature size) cannot take over the head; no CLIP at all is refused with a reason.
    other_w, other_c, _ = make_tiny_clip(tmp_path / "other", config={**TINY_CONFIG, "embed_dim": 16})
    with pytest.raises(TrainingError, match="does not fit this CLIP"):
        Trainer(tiny_options(data, tmp_path / "run", resume=str(snapshot), **{
            **opts, "clip": str(other_w), "clip_config": str(other_c)})).setup()
    with pytest.raises(TrainingError, match="needs a CLIP"):
        Trainer(tiny_options(data, tmp_path / "none", **{**opts, "clip": str(tmp_path / "missing.safetensors")})).setup()


def test_metrics_at_snapshots_write_metrics_jsonl_and_emit_metric_events(data, tmp_path, tiny_clip):
    import math

    weights, config = tiny_clip
    events: list[dict] = []
    run_dir = tmp_path / "run"
    result = train(tiny_options(data, run_dir, pl_weight=0, clip=str(weights), clip_config=str(config),
                                metric_images=16), event_fn=events.append)
    assert result.reason == "finished"
    assert not [e for e in events if e["event"] == "log" and e["level"] == "warning"]
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    snapshots = [e for e in events if e["event"] == "snapshot"]
    assert len(lines) == len(snapshots) == 2                     # one per snapshot (snap=1, 2 ticks)
    for line in lines:
        assert set(line) >= {"kimg", "fd_clip", "kid_clip", "kid_clip_std", "clip", "images"}
        assert line["clip"] == str(weights) and line["images"] == 16
        assert all(math.isfinite(line[k]) for k in ("fd_clip", "kid_clip", "kid_clip_std"))
        assert line["fd_clip"] > 0
    metric = [e for e in events if e["event"] == "metric"]
    assert len(metric) == 2 and {e["event"] for e in events} <= EVENTS
    assert metric[-1]["kimg"] == pytest.approx(result.kimg)
    assert metric[-1]["fd_clip"] == pytest.approx(lines[-1]["fd_clip"])
    assert set(metric[-1]) == {"event", "kimg", "fd_clip", "kid_clip", "kid_clip_std"}
    # each metric event follows its snapshot event
    kinds = [e["event"] for e in events if e["event"] in ("snapshot", "metric")]
    assert kinds == ["snapshot", "metric", "snapshot", "metric"]


def test_metrics_for_a_conditional_model_and_cached_features(data, tmp_path, tiny_clip):
    weights, config = tiny_clip
    trainer = Trainer(tiny_options(data, tmp_path / "run", cond=True, pl_weight=0, clip=str(weights),
                                   clip_config=str(config), metric_images=8))
    trainer.setup()
    trainer.step()
    first = trainer.compute_metrics()
    scorer, reals = trainer._metric_scorer, trainer._metric_real_features
    again = trainer.compute_metrics()                          # same G_ema: same numbers, nothing reloaded
    assert first is not None and again["fd_clip"] == pytest.approx(first["fd_clip"])
    assert trainer._metric_scorer is scorer and trainer._metric_real_features is reals
    assert reals.shape[0] == 8 and torch.is_grad_enabled()


def test_missing_default_clip_warns_once_and_training_finishes(data, tmp_path, monkeypatch):
    from studio.clip import model as clip

    monkeypatch.setattr(clip, "DEFAULT_CLIP_DIR", tmp_path / "no-default-clip")
    events: list[dict] = []
    run_dir = tmp_path / "run"
    result = train(tiny_options(data, run_dir, pl_weight=0, clip="default"), event_fn=events.append)
    assert result.reason == "finished" and result.snapshot is not None
    warnings = [e for e in events if e["event"] == "log" and e["level"] == "warning"]
    assert len(warnings) == 1 and warnings[0]["message"].startswith("metrics skipped: ")
    assert "default CLIP" in warnings[0]["message"]
    assert not [e for e in events if e["event"] == "metric"]
    assert not (run_dir / "metrics.jsonl").exists()
    assert len([e for e in events if e["event"] == "snapshot"]) == 2


def test_metrics_off_and_cli_flags(data, tmp_path, tiny_clip, capsys):
    from studio.cli import main

    events: list[dict] = []
    train(tiny_options(data, tmp_path / "off", pl_weight=0, metrics=False, clip="default"), event_fn=events.append)
    assert not [e for e in events if e["event"] in ("metric", "log") and e.get("level") == "warning"]
    weights, config = tiny_clip
    outdir = tmp_path / "runs"
    code = main(["train", "--data", str(data), "--outdir", str(outdir), "--kimg", "0.008", "--batch", "4",
                 "--preset", "small", "--workers", "0", "--device", "cpu", "--metric-images", "8",
                 "--clip", str(weights), "--clip-config", str(config)])
    assert code == 0
    (run,) = outdir.iterdir()
    saved = TrainingOptions.load(run)
    assert saved.metrics and saved.metric_images == 8 and saved.clip == str(weights)
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1
    assert "FD-CLIP" in capsys.readouterr().err
    code = main(["train", "--data", str(data), "--outdir", str(outdir), "--kimg", "0.008", "--batch", "4",
                 "--preset", "small", "--workers", "0", "--device", "cpu", "--no-metrics"])
    assert code == 0
    assert TrainingOptions.load(sorted(outdir.iterdir())[-1]).metrics is False


# --------------------------------------------------------------------------------------------
# The DCGAN preset


def dcgan_options(data: Path, run_dir: Path, **overrides) -> TrainingOptions:
    settings = dict(data=str(data), run_dir=str(run_dir), kimg=0.016, batch=4, tick_kimg=0.008, snap=1,
                    preset="dcgan", channel_base=4, channel_max=16, z_dim=16, workers=0, grid=4, device="cpu")
    if "metrics" in TrainingOptions.__dataclass_fields__:
        settings["metrics"] = False
    settings.update(overrides)
    return TrainingOptions(**settings)


@pytest.fixture(scope="module")
def data64(tmp_path_factory) -> Path:
    from studio.data.procedural import write_dataset

    return write_dataset(tmp_path_factory.mktemp("data64") / "paintings", 16, 64)


def test_dcgan_few_steps_finite_losses_and_a_snapshot_that_opens(data64, tmp_path):
    from studio.gan.formats import load_network
    from studio.gan.networks.dcgan import DcganDiscriminator, DcganGenerator

    run_dir = tmp_path / "run"
    events: list[dict] = []
    result = train(dcgan_options(data64, run_dir), event_fn=events.append)
    assert result.reason == "finished" and result.nimg == 16
    assert json.loads(json.dumps(events)) == events
    assert any(e["event"] == "log" and e["message"].startswith("DCGAN 64x64 px") for e in events)
    stats = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    assert [s["nimg"] for s in stats] == [8, 16]
    for s in stats:
        for key in ("loss_G", "loss_D", "loss_D_real", "loss_D_fake"):
            assert torch.isfinite(torch.tensor(s[key])), (key, s)
        assert "loss_r1" not in s and "loss_pl" not in s
    saved = TrainingOptions.load(run_dir)
    assert (saved.preset, saved.lr, saved.mirror, saved.aug, saved.pl_weight) == ("dcgan", 2e-4, True, "noaug", 0)
    net = load_network(result.snapshot)
    assert isinstance(net.G, DcganGenerator) and isinstance(net.D, DcganDiscriminator)
    assert net.kind == "dcgan" and net.training_state["nimg"] == 16 and not net.G.training
    with torch.no_grad():
        image = net.G(torch.randn(2, 16), None, truncation_psi=0.5)
    assert image.shape == (2, 3, 64, 64) and torch.isfinite(image).all() and image.abs().max() <= 1
    for name in ("reals.png", "preview-000000.png"):
        assert (run_dir / name).is_file(), name


def test_dcgan_resume_restores_everything_and_continues_exactly(data64, tmp_path):
    from studio.training.dcgan import BETAS, DcganFamily

    run_dir = tmp_path / "run"
    first = Trainer(dcgan_options(data64, run_dir, blur_sigma=4.0, clip_d=1.0))
    assert isinstance(first.family, DcganFamily)
    assert (first.options.blur_sigma, first.options.clip_d) == (0, 0)   # StyleGAN2-only helpers stay off
    first.setup()
    assert first.clip_d is None
    for _ in range(3):
        first.step()
    for p_ema, p in zip(first.G_ema.state_dict().values(), first.G.state_dict().values()):
        assert torch.equal(p_ema, p)                                    # G_ema is a copy of G, no EMA
    path = first.write_snapshot()

    def resume() -> Trainer:
        trainer = Trainer(dcgan_options(data64, run_dir, resume="latest"))
        trainer.setup()
        return trainer

    again = resume()
    assert again.resumed_from == path
    assert (again.nimg, again.step_count, again.tick) == (first.nimg, first.step_count, first.tick)
    for a, b in ((first.G_ema, again.G_ema), (first.G, again.G), (first.D, again.D)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    for opt_a, opt_b, mod_a, mod_b in ((first.opt_G, again.opt_G, first.G, again.G),
                                       (first.opt_D, again.opt_D, first.D, again.D)):
        assert opt_b.param_groups[0]["betas"] == BETAS and opt_b.param_groups[0]["lr"] == 2e-4
        for pa, pb in zip(mod_a.parameters(), mod_b.parameters()):
            for key in ("exp_avg", "exp_avg_sq", "step"):
                assert torch.equal(opt_a.state[pa][key].cpu(), opt_b.state[pb][key].cpu())
        # (beta1 = 0.5: the first moment is stored)
    again.step()
    other = resume()                                                    # (setup seeds torch's global RNG)
    other.step()                                                        # a resumed run is deterministic
    sa, sb = again.G_ema.state_dict(), other.G_ema.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert again.nimg == first.nimg + 4

    result = train(dcgan_options(data64, run_dir, resume="latest"))
    assert result.nimg == 16 and result.reason == "finished"


def test_dcgan_refuses_other_sizes_labels_and_stylegan_snapshots(data, data64, finished_run, tmp_path):
    with pytest.raises(TrainingError, match="64 or 128 px"):
        Trainer(dcgan_options(data, tmp_path / "a")).setup()            # 32 px images
    with pytest.raises(TrainingError, match="unconditional"):
        Trainer(dcgan_options(data64, tmp_path / "b", cond=True))
    _, _, run_dir = finished_run
    stylegan = find_latest_snapshot(run_dir)
    with pytest.raises(TrainingError, match="stylegan2 network"):
        Trainer(dcgan_options(data, tmp_path / "c", res=64, resume=str(stylegan))).setup()
    dcgan = train(dcgan_options(data64, tmp_path / "d", kimg=0.004)).snapshot
    with pytest.raises(TrainingError, match="--preset dcgan"):
        Trainer(tiny_options(data, tmp_path / "e", resume=str(dcgan))).setup()


def test_training_time_of_old_snapshots_comes_from_the_stats(data, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    lines = [(2000, 700.0, 1000.0), (4000, 1300.0, 1000.0),      # session 1 started at t=1000
             (6000, 400.0, 9000.0), (8000, 900.0, 9000.0),       # session 2 (its first tick came late)
             (10000, 300.0, 20000.0)]                            # after the snapshot: not counted
    (run / "stats.jsonl").write_text("".join(json.dumps({"nimg": n, "time_s": t, "timestamp": start + t}) + "\n"
                                             for n, t, start in lines))
    trainer = Trainer(tiny_options(data, run))
    trainer.nimg = 8000
    assert trainer._seconds_from_stats() == 1300.0 + 900.0


def test_a_first_preview_comes_early_and_changes_nothing(data, tmp_path, monkeypatch):
    """The Train tab shows a preview a minute in, long before the first snapshot; writing it leaves
    the training exactly as it would have been."""
    from safetensors.torch import load_file

    from studio.training import trainer as trainer_module

    plain = train(tiny_options(data, tmp_path / "plain", snap=10))
    monkeypatch.setattr(trainer_module, "EARLY_PREVIEW_S", 0.0)
    events: list[dict] = []
    early = train(tiny_options(data, tmp_path / "early", snap=10), event_fn=events.append)
    previews = [e for e in events if e["event"] == "preview"]
    assert len(previews) == 1 and Path(previews[0]["path"]).is_file()
    assert [e["event"] for e in events].index("preview") < [e["event"] for e in events].index("snapshot")
    a, b = load_file(str(plain.snapshot)), load_file(str(early.snapshot))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_run_that_cannot_start_leaves_no_empty_folder(tmp_path):
    run_dir = tmp_path / "runs" / "00000-missing-small"
    run_dir.mkdir(parents=True)
    (run_dir / "requested-options.json").write_text("{}")
    with pytest.raises(StudioError, match="does not exist"):
        train(tiny_options(tmp_path / "no-such-folder", run_dir))
    assert not run_dir.exists()
    kept = tmp_path / "runs" / "00001-mine"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")                       # anything else stays where it is
    with pytest.raises(StudioError):
        train(tiny_options(tmp_path / "no-such-folder", kept))
    assert (kept / "notes.txt").read_text() == "mine"
