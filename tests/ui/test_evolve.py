"""The Evolve panel: CLIP's parents ticked, the artist's choice bred, locks, lineage, stars."""

from __future__ import annotations

import pytest

from tests.ui.conftest import wait_for


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    from tests.clip_fixtures import make_tiny_clip

    checkpoint, config, _ = make_tiny_clip(tmp_path_factory.mktemp("clip"))
    return checkpoint, config


def idle(panel) -> bool:
    return panel.state is not None and not panel.running


def test_evolution_follows_the_artists_choices(make_window, tiny_model, tiny_clip, qtbot, monkeypatch):
    window = make_window(tiny_model)
    panel = window.evolve
    window.tabs.setCurrentWidget(panel)
    panel.clip_edit.setText(str(tiny_clip[0]))
    panel.clip_config.setText(str(tiny_clip[1]))
    panel.population.setValue(12)
    panel.parents.setValue(2)
    panel.generations.setValue(3)
    panel.truncation.set_value(0.7)
    panel.start()
    wait_for(qtbot, lambda: idle(panel), timeout=60000)
    state = panel.state
    assert state["index"] == 0 and len(state["ids"]) == 12
    assert state["settings"]["truncation_psi"] == 0.7             # as `studio evolve --trunc 0.7`
    assert state["scores"] == sorted(state["scores"], reverse=True)
    assert panel.chosen == state["ids"][:2]                       # CLIP's choice is ticked
    assert panel.grid.grid_model.items[0].badge == "✓"

    rows = [3, 5]
    panel.grid.select_rows(rows)
    picked = [panel.grid.grid_model.items[r].tag for r in rows]
    panel.parents_from_selection()
    panel.grid.select_row(rows[0])
    panel.lock_selected()                                         # keep it in every generation
    panel.next_generation(1)
    wait_for(qtbot, lambda: idle(panel) and panel.state["index"] == 1, timeout=60000)
    state = panel.state
    assert sorted(state["parents_used"]) == sorted(picked)
    assert len(state["ids"]) == 2 + 4 and set(picked) <= set(state["ids"])
    assert state["locked"] == [picked[0]]

    panel.next_generation(1)
    wait_for(qtbot, lambda: idle(panel) and panel.state["index"] == 2, timeout=60000)
    assert picked[0] in panel.state["parents_used"]              # the locked parent stayed
    assert [g["index"] for g in panel.state["lineage"]] == [0, 1, 2]

    panel.branch(0)                                               # back to the start ...
    wait_for(qtbot, lambda: idle(panel) and panel.state["index"] == 0, timeout=60000)
    assert len(panel.state["lineage"]) == 1
    assert panel.chosen == picked                                 # ... with the parents ticked there
    assert len(panel.lineage.grid_model.items) == 3               # the later generations are kept
    panel.choices.chosen = [panel.state["ids"][0]]
    panel.next_generation(1)                                      # a new branch beside the old one
    wait_for(qtbot, lambda: idle(panel) and panel.state["index"] == 1, timeout=60000)
    tree = panel.state["tree"]
    assert len(tree) == 4 and [g["active"] for g in tree] == [True, False, False, True]
    assert [item.badge for item in panel.lineage.grid_model.items] == ["", "other branch", "other branch", ""]
    panel.branch(2)                                               # the old branch is one click away
    wait_for(qtbot, lambda: idle(panel) and panel.state["index"] == 2, timeout=60000)
    assert [g["index"] for g in panel.state["lineage"]] == [0, 1, 2]
    asked = []
    monkeypatch.setattr(panel, "_confirm", lambda title, text: asked.append(text) or False)
    panel.start()                                                 # a new prompt asks before closing the run
    assert asked and "4 generations" in asked[0] and panel.state["index"] == 2

    from studio.core.settings import load_settings

    assert load_settings().clip == str(tiny_clip[0])              # the choice is remembered
    panel.grid.select_row(0)
    panel.star_selection()
    badge = panel.grid.grid_model.items[0].badge
    assert "★" in badge and "✓" in badge                         # the star sits beside the parent tick
    starred = window.session.library.query()
    assert starred and starred[0].source == "evolve" and starred[0].recipe.w is not None

    panel.to_mix.click()                                          # the selection becomes the mix's forms
    assert window.tabs.currentWidget() is window.mix
    assert len(window.mix.forms) == 1 and "recipe" in window.mix.forms[0]
    panel.to_export.click()
    assert window.tabs.currentWidget() is window.export_panel and len(window.export_panel.recipes) == 1
    assert window.export_panel.source_combo.currentText() == "Evolve selection"


def test_missing_default_clip_is_a_clear_message(make_window, tiny_model, qtbot, tmp_path, monkeypatch):
    from studio.clip import model as clip

    monkeypatch.setattr(clip, "DEFAULT_CLIP_DIR", tmp_path / "no-default-clip")
    window = make_window(tiny_model)
    panel = window.evolve
    panel.clip_edit.setText("default")
    panel.population.setValue(8)
    panel.start()
    wait_for(qtbot, lambda: not panel.running, timeout=60000)
    assert "CLIP" in panel.status.text()


def _find(window, tiny_clip, count: int, top: int = 5):
    """Find by prompt as an artist does it: the CLIP chosen in Evolve, a prompt, how many seeds."""
    window.evolve.clip_edit.setText(str(tiny_clip[0]))
    window.evolve.clip_config.setText(str(tiny_clip[1]))
    explore = window.explore
    explore.find_prompt.setText("a red circle")
    explore.find_count.setValue(count)
    explore.find_top.setValue(top)
    explore.find()
    return explore


def test_find_by_prompt_ranks_seeds(make_window, tiny_model, tiny_clip, qtbot):
    from studio.clip.model import load_clip
    from studio.clip.rank import rank_seeds
    from studio.gan.formats import load_network
    from studio.gan.render import Renderer

    window = make_window(tiny_model)
    explore = _find(window, tiny_clip, 40)
    wait_for(qtbot, lambda: explore.find_btn.isEnabled() and len(explore.grid.grid_model.items) == 5
             and all(i.image is not None for i in explore.grid.grid_model.items), timeout=60000)
    shown = [i.tag for i in explore.grid.grid_model.items]
    scorer = load_clip(str(tiny_clip[0]), config=str(tiny_clip[1]))
    expected = rank_seeds(Renderer(load_network(tiny_model), device="cpu"), scorer, "a red circle",
                          list(range(40)), top_k=5)
    assert shown == [seed for seed, _ in expected]
    assert explore.grid.grid_model.items[0].badge == f"{expected[0][1]:.3f}"
    explore.next_page()                                   # back to browsing pages
    assert [i.tag for i in explore.grid.grid_model.items] == explore.page_seeds()


def test_stopping_find_by_prompt_gives_the_buttons_back(make_window, tiny_model, tiny_clip, qtbot):
    window = make_window(tiny_model)
    explore = _find(window, tiny_clip, 100000)
    assert not explore.find_btn.isEnabled()
    wait_for(qtbot, lambda: "Scored" in window.statusBar().currentMessage(), timeout=60000)
    wait_for(qtbot, lambda: any(item.image is not None for item in explore.grid.grid_model.items), timeout=60000)
    explore.find_stop.click()                                     # the best so far were shown while searching
    assert explore.find_btn.isEnabled() and not explore.find_stop.isEnabled()
    assert "Stopped" in window.statusBar().currentMessage()


def test_panel_defaults_are_magnets(make_window, tiny_model):
    window = make_window(tiny_model)
    config = window.evolve.config()
    assert {k: config[k] for k in ("population", "parents", "recombination", "mutation", "generations")} == {
        "population": 200, "parents": 4, "recombination": 0.333, "mutation": 0.25, "generations": 5}
    assert config["space"] == "w"


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """A tiny conditional network that names its classes, and a CLIP folder with a vocabulary."""
    import torch

    from studio.gan.formats.native import save_native
    from studio.gan.networks import GeneratorConfig, make_generator
    from tests.clip_fixtures import make_tiny_clip

    folder = tmp_path_factory.mktemp("labelled")
    torch.manual_seed(0)
    G = make_generator(GeneratorConfig(z_dim=16, w_dim=16, c_dim=2, img_resolution=16, mapping_layers=1,
                                       channel_base=64, channel_max=16))
    save_native(folder / "families.safetensors", G, provenance={
        "class_names": ["geometric", "grid"], "class_keywords": {"geometric": ["triangles"], "grid": ["rectangles"]}})
    make_tiny_clip(folder / "clip")
    (folder / "clip" / "vocabulary.txt").write_text("a\ngrid\npainting\nof\nred\nrectangles\norange\ntriangles\n")
    (folder / "clip" / "prompts.txt").write_text("a grid painting of red rectangles\norange triangles\n")
    return folder


def test_prompt_hints_follow_the_clips_vocabulary(make_window, labelled, qtbot):
    window = make_window(labelled / "families.safetensors")
    panel = window.evolve
    window.tabs.setCurrentWidget(panel)
    assert [panel.class_combo.itemText(i) for i in range(panel.class_combo.count())] == ["0: geometric", "1: grid"]
    panel.clip_edit.setText(str(labelled / "clip"))
    panel.clip_edit.editingFinished.emit()
    assert [a.text() for a in panel.suggest_menu.actions()] == ["a grid painting of red rectangles", "orange triangles"]
    panel.suggest_menu.actions()[0].trigger()                    # an idea becomes the prompt...
    assert panel.prompt.text() == "a grid painting of red rectangles"
    wait_for(qtbot, lambda: panel.class_combo.currentData() == 1, timeout=5000)   # ...and picks its class
    assert "never saw" not in panel.vocab_hint.text()
    panel.prompt.setText("orange triangles under a stormy sky")
    wait_for(qtbot, lambda: "never saw" in panel.vocab_hint.text(), timeout=5000)
    assert panel.unseen_words() == ["under", "stormy", "sky"]
    assert "“stormy”" in panel.vocab_hint.text() and "larger CLIP" in panel.vocab_hint.text()
    assert panel.class_combo.currentData() == 0
    panel.class_combo.activated.emit(1)                          # the artist's choice then stays
    panel.class_combo.setCurrentIndex(1)
    panel.prompt.setText("orange triangles")
    qtbot.wait(400)
    assert panel.class_combo.currentData() == 1
    window.explore.find_prompt.setText("red rectangles in the rain")   # Find by prompt uses the same CLIP
    assert window.explore.find_hint.unseen == ["in", "the", "rain"] and not window.explore.find_hint.isHidden()
    panel.clip_edit.setText("ViT-B-32:laion2b_s34b_b79k")        # a general CLIP reads free text
    panel.clip_edit.editingFinished.emit()
    assert panel.vocab_hint.isHidden() and panel.suggest_btn.isHidden()
    window.tabs.setCurrentWidget(window.stack)                   # back in Explore, the hint follows
    assert window.explore.find_hint.isHidden() and window.explore.find_hint.unseen == []


def test_the_canvas_and_tile_choices_follow_the_model(make_window, tiny_model, sg3_model, qtbot):
    window = make_window(tiny_model)
    panel = window.evolve
    assert not panel.canvas_combo.isHidden() and not panel.tile_check.isHidden()
    panel.tile_check.setChecked(True)
    window.session.open_model(str(sg3_model))
    wait_for(qtbot, lambda: window.session.model is not None and window.session.model["kind"] == "stylegan3")
    assert not panel.canvas_combo.isHidden() and panel.tile_check.isHidden()
    assert not panel.tile_check.isChecked()


def test_the_previewed_start_is_offered_at_half_size(make_window, tiny_model):
    window = make_window(tiny_model)
    panel = window.evolve
    assert panel.config()["preview_resolution"] is None
    panel.preview_check.setChecked(True)
    assert panel.config()["preview_resolution"] == 32                   # a 64 px model: its 32 px early exit
