"""Networks as ONNX graphs and ONNX Runtime as a rendering backend: the same pictures as PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.gan.formats import load_network
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings

ort = pytest.importorskip("onnxruntime")


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("model", ["tiny_model", "tiny_swagan_model", "tiny_conditional_model"])
def test_the_exported_graphs_draw_the_studios_pictures_at_any_batch(model, request, tmp_path, capsys):
    path = request.getfixturevalue(model)
    out = tmp_path / "net.onnx"
    assert main(["convert", str(path), str(out)]) == 0
    assert "exported" in capsys.readouterr().out
    G = load_network(path).G
    synthesis, mapping = _session(out), _session(tmp_path / "net.mapping.onnx")
    for batch in (1, 3):                                     # traced with two: the batch is not baked in
        z = np.random.RandomState(batch).randn(batch, G.z_dim).astype(np.float32)
        c = np.zeros((batch, G.c_dim), np.float32)
        if G.c_dim:
            c[:, 1] = 1
        psi = np.where(np.arange(G.num_ws) < 4, 0.6, 1.0).astype(np.float32)    # truncation with a cutoff of 4
        feed = {"z": z, "c": c, "psi": psi}
        ws = mapping.run(None, {i.name: feed[i.name] for i in mapping.get_inputs()})[0]
        with torch.inference_mode():
            expected_ws = G.mapping(torch.from_numpy(z), torch.from_numpy(c) if G.c_dim else None,
                                    truncation_psi=0.6, truncation_cutoff=4)
            expected = G.synthesis(expected_ws, noise_mode="const")
        assert np.abs(ws - expected_ws.numpy()).max() < 1e-4
        images = synthesis.run(None, {"ws": expected_ws.numpy()})[0]
        assert images.shape == tuple(expected.shape)
        levels = np.abs((images * 127.5 + 128).clip(0, 255).astype(int) -
                        (expected.numpy() * 127.5 + 128).clip(0, 255).astype(int)).max()
        assert levels <= 1                                  # within one level of 255


def test_the_onnx_backend_renders_what_it_can_and_hands_the_rest_to_pytorch(tiny_model, tmp_path, studio_home):
    torch_renderer = Renderer(load_network(tiny_model), device="cpu")
    onnx_renderer = Renderer(load_network(tiny_model), device="cpu", backend="onnx")
    assert onnx_renderer.backend.startswith("ONNX Runtime") and torch_renderer.backend.startswith("PyTorch")
    assert list((studio_home).rglob("synthesis.onnx"))                   # exported once into the models cache
    for settings in (RenderSettings(truncation_psi=0.7), RenderSettings(noise_mode="random"),
                     RenderSettings(tile=True), RenderSettings(canvas=(6, 4))):
        a = dict(torch_renderer.render_seeds([4, 5], settings))
        b = dict(onnx_renderer.render_seeds([4, 5], settings))
        assert all(np.abs(a[s].astype(int) - b[s].astype(int)).max() <= 1 for s in (4, 5)), settings
    assert Renderer(load_network(tiny_model), device="cpu", backend="auto").backend.startswith("PyTorch")
    with pytest.raises(ValueError, match="backend"):
        Renderer(load_network(tiny_model), device="cpu", backend="tensorrt")
    out = tmp_path / "g"
    assert main(["generate", "--network", str(tiny_model), "--seeds", "4", "--backend", "onnx", "--outdir", str(out)]) == 0
    plain = dict(torch_renderer.render_seeds([4], RenderSettings()))[4]
    assert np.abs(np.asarray(Image.open(out / "seed0004.png")).astype(int) - plain.astype(int)).max() <= 1


def test_a_stylegan3_graph_draws_its_pictures_and_its_moved_views(sg3_model, tmp_path, studio_home, monkeypatch):
    out = tmp_path / "sg3.onnx"
    assert main(["convert", str(sg3_model), str(out)]) == 0
    G = load_network(sg3_model).G
    from studio.gan.networks.stylegan3 import view_transform

    synthesis = _session(out)
    assert [i.name for i in synthesis.get_inputs()] == ["ws", "view"]
    for batch, view in ((1, torch.eye(3)), (3, view_transform((0.2, -0.1), 30))):
        with torch.inference_mode():
            ws = G.mapping(torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(batch)), None)
            expected = G.synthesis(ws, view=view)
        images = synthesis.run(None, {"ws": ws.numpy(), "view": view.numpy()})[0]
        assert images.shape == tuple(expected.shape) and np.abs(images - expected.numpy()).max() < 1e-3

    torch_renderer = Renderer(load_network(sg3_model), device="cpu")
    onnx_renderer = Renderer(load_network(sg3_model), device="cpu", backend="onnx")
    moved = RenderSettings(translate=(0.3, 0.1), rotate=15)
    assert onnx_renderer.onnx.handles(moved) and not onnx_renderer.onnx.handles(RenderSettings(canvas=(6, 4)))
    for settings in (RenderSettings(), moved):
        a = dict(torch_renderer.render_seeds([2], settings))[2]
        b = dict(onnx_renderer.render_seeds([2], settings))[2]
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1, settings
    assert not np.array_equal(dict(onnx_renderer.render_seeds([2], moved))[2],
                              dict(onnx_renderer.render_seeds([2], RenderSettings()))[2])
    # auto: ONNX Runtime for a StyleGAN3 on a CPU (measured faster), PyTorch where memory is short
    assert Renderer(load_network(sg3_model), device="cpu", backend="auto").backend.startswith("ONNX Runtime")
    from studio.core import memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 1000)
    assert Renderer(load_network(sg3_model), device="cpu", backend="auto").backend.startswith("PyTorch")
    with pytest.raises(Exception, match="needs about .* of memory"):
        Renderer(load_network(sg3_model), device="cpu", backend="onnx")
