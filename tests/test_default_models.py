"""The bundled defaults as every command sees them: ``--network default`` (and no --network),
class names, prompts that pick the class, and the CLIP vocabulary checks.

The real bundled files are not needed: the tests point the default paths at tiny networks and
CLIPs they build.
"""

from __future__ import annotations

import json

import pytest
import torch

from studio.cli import main
from studio.clip import model as clip
from studio.clip import vocabulary
from studio.core.errors import ModelFormatError
from studio.gan import formats
from studio.gan.formats.native import save_native
from studio.gan.networks import GeneratorConfig, make_generator
from studio.imaging.metadata import read_recipe
from tests.clip_fixtures import make_tiny_clip

FAMILIES = ["geometric", "grid", "colour field"]
KEYWORDS = {"geometric": ["circles", "triangles"], "grid": ["rectangles"], "colour field": ["bands", "stripes"]}


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """A tiny conditional generator that records its class names, and a tiny CLIP folder with a
    vocabulary and example prompts."""
    folder = tmp_path_factory.mktemp("bundled")
    torch.manual_seed(0)
    G = make_generator(GeneratorConfig(z_dim=16, w_dim=16, c_dim=3, img_resolution=16, mapping_layers=1,
                                       channel_base=64, channel_max=16))
    network = folder / "default-abstract.safetensors"
    save_native(network, G, provenance={"class_names": FAMILIES, "class_keywords": KEYWORDS}, half=True)
    make_tiny_clip(folder / "default-clip")
    words = "a an abstract painting with of orange red triangles circles grid rectangles on background".split()
    (folder / "default-clip" / "vocabulary.txt").write_text("\n".join(words) + "\n")
    (folder / "default-clip" / "prompts.txt").write_text("a grid painting of red rectangles\n# comment\n\n"
                                                          "an abstract painting with orange triangles\n")
    return {"network": network, "clip": folder / "default-clip"}


@pytest.fixture
def defaults(bundled, monkeypatch):
    monkeypatch.setattr(formats, "DEFAULT_NETWORK_PATH", bundled["network"])
    monkeypatch.setattr(clip, "DEFAULT_CLIP_DIR", bundled["clip"])
    monkeypatch.setattr(vocabulary, "DEFAULT_CLIP_DIR", bundled["clip"])
    return bundled


def test_default_names_the_bundled_network_with_its_classes(defaults):
    net = formats.load_network("default")
    assert net.path == defaults["network"] and net.G.c_dim == 3
    assert net.class_names == FAMILIES and net.class_keywords["grid"] == ["rectangles"]
    assert formats.load_network("DEFAULT").fingerprint == net.fingerprint


def test_missing_default_network_says_where_it_should_be(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "DEFAULT_NETWORK_PATH", tmp_path / "gone.safetensors")
    with pytest.raises(ModelFormatError, match="default generator is missing.*gone.safetensors"):
        formats.load_network("default")


def test_a_file_called_default_is_still_that_file(tmp_path, monkeypatch, defaults):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").write_bytes(defaults["network"].read_bytes())
    assert formats.resolve_network_path("default") == formats.Path("default")


def test_generate_without_network_uses_the_default_and_class_names(defaults, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", "--seeds", "1-2", "--class", "Grid", "--outdir", str(out)]) == 0
    recipe = read_recipe(out / "seed0001.png")
    assert recipe.class_index == 1 and recipe.model.name == "default-abstract"
    capsys.readouterr()
    assert main(["generate", "--seeds", "1", "--outdir", str(tmp_path / "first")]) == 0   # a first command works
    err = capsys.readouterr().err
    assert "class 0 (geometric) -- choose another with --class 0-2 (0 geometric, 1 grid, 2 colour field)" in err
    assert main(["generate", "--seeds", "1", "--class", "²", "--outdir", str(out)]) == 2     # no traceback
    assert main(["generate", "--seeds", "1", "--class", "cubist", "--outdir", str(out)]) == 2
    assert "no class 'cubist'" in capsys.readouterr().err


def test_export_without_input_or_network_renders_the_default(defaults, tmp_path):
    out = tmp_path / "print.png"
    assert main(["export", "--seed", "5", "--class", "2", "--size", "32x32", "--out", str(out)]) == 0
    recipe = read_recipe(out)
    assert recipe.seed == 5 and recipe.class_index == 2


def test_rank_takes_the_class_from_the_prompt_and_warns_about_unseen_words(defaults, tmp_path, capsys):
    out = tmp_path / "ranked"
    assert main(["rank", "--prompt", "orange triangles at sunset", "--seeds", "0-3", "--top", "2",
                 "--clip", "default", "--outdir", str(out)]) == 0
    err = capsys.readouterr().err
    assert "never saw 'at', 'sunset'" in err and "larger CLIP" in err
    assert "class 0 (geometric)" in err
    ranking = json.loads((out / "ranking.json").read_text())
    assert ranking["class_index"] == 0
    # an explicit --class wins over the prompt
    assert main(["rank", "--prompt", "orange triangles", "--seeds", "0-3", "--top", "1", "--class", "grid",
                 "--outdir", str(out)]) == 0
    assert json.loads((out / "ranking.json").read_text())["class_index"] == 1


def test_vocabulary_files_of_the_default_clip(defaults):
    words = vocabulary.read_vocabulary("default")
    assert "triangles" in words and "sunset" not in words
    assert vocabulary.read_example_prompts("") == ["a grid painting of red rectangles",
                                                   "an abstract painting with orange triangles"]
    assert vocabulary.read_vocabulary("ViT-B-32:laion2b_s34b_b79k") is None   # free text: no warnings
    assert vocabulary.unseen_words("A Sunset, with ORANGE triangles & a dog!", words) == ["sunset", "dog"]
    assert vocabulary.unseen_words("anything at all", None) == []


@pytest.mark.parametrize("prompt, expected", [
    ("an abstract painting with orange triangles", 0),
    ("a colour field painting", 2),
    ("red bands and blue stripes", 2),
    ("triangles on a grid", 1),             # a class name outranks another class's shapes
    ("triangles and rectangles", None),     # two classes asked for: no guess
    ("a grid or a colour field", None),
    ("a painting of the sea", None),
    ("colour fields", None),                # whole words only
])
def test_suggest_class(prompt, expected):
    assert vocabulary.suggest_class(prompt, FAMILIES, KEYWORDS) == expected


def test_info_names_the_default_models_classes(defaults, capsys):
    assert main(["info", "default"]) == 0
    out = capsys.readouterr().out
    assert "default-abstract.safetensors" in out and "0 geometric, 1 grid, 2 colour field" in out


def test_a_recipe_made_with_the_default_model_elsewhere_finds_the_bundled_one(defaults, tmp_path):
    out = tmp_path / "out"
    assert main(["generate", "--seeds", "3", "--class", "1", "--outdir", str(out)]) == 0
    recipe = read_recipe(out / "seed0003.png")
    recipe.model.path = "/home/someone-else/studio/models/default-abstract.safetensors"
    (tmp_path / "recipe.json").write_text(recipe.to_json())
    assert main(["export", str(tmp_path / "recipe.json"), "--out", str(tmp_path / "print.png")]) == 0
    assert read_recipe(tmp_path / "print.png").model.fingerprint == recipe.model.fingerprint


def test_every_example_prompt_picks_its_own_family():
    """The Evolve panel's Ideas and real captions name their family, even grids with 'lines'."""
    from studio.data.procedural import FAMILIES, FAMILY_SHAPES, example_prompts, paint
    from studio.training.default_model import _class_keywords

    keywords = _class_keywords()
    assert keywords == {f: list(FAMILY_SHAPES[f]) for f in FAMILIES}
    for prompt in example_prompts():
        family = next(f for f in FAMILIES if prompt.startswith(("a " + f, "an " + f)))
        assert vocabulary.suggest_class(prompt, FAMILIES, keywords) == FAMILIES.index(family), prompt
    for seed in range(24):
        painting = paint(seed, 32)
        assert FAMILIES[vocabulary.suggest_class(painting.caption, FAMILIES, keywords)] == painting.attributes["family"]
    assert vocabulary.suggest_class("thin orange lines", FAMILIES, keywords) == 0      # a shape alone
