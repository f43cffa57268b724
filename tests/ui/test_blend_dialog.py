"""File > Blend models…: the open model mixed with another by layer groups, previewed, saved, opened."""

from __future__ import annotations

from studio.gan.formats import load_network
from tests.ui.conftest import wait_for


def test_blend_models_dialog_previews_saves_and_opens(make_window, tiny_model, tmp_path, qtbot):
    import torch

    from studio.gan.formats.native import save_native

    net = load_network(tiny_model)
    G = net.G.__class__(net.G.config)
    torch.manual_seed(2)
    G.load_state_dict({k: (v + 0.3 * torch.randn_like(v)) if v.is_floating_point() and "filter" not in k else v
                       for k, v in net.G.state_dict().items()})
    other = tmp_path / "tuned.safetensors"
    save_native(other, G)
    window = make_window(tiny_model)
    window.blend_models()
    dialog = window.blend_dialog
    dialog.other.setText(str(other))
    dialog.sliders["fine"].setValue(100)
    dialog.render()
    # the slider's own (coalesced) render may lay the grid out again meanwhile: look at the grid as it is
    wait_for(qtbot, lambda: dialog.save_btn.isEnabled()
             and all(i.image is not None and not i.stale for i in dialog.grid.grid_model.items))
    assert set(dialog.points().values()) == {0.0, 1.0} and len(dialog.points()) == net.G.num_ws
    dialog.save_as(str(tmp_path / "mine"))
    wait_for(qtbot, lambda: dialog.saved is not None)
    saved = load_network(dialog.saved)
    assert saved.provenance["blend"]["b"]["fingerprint"] == load_network(other).fingerprint
    dialog.open_blend()
    wait_for(qtbot, lambda: window.session.model is not None and window.session.model["name"] == "mine")
