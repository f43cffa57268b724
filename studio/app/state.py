"""The window's state, as small Qt-free objects that announce their changes.

The napari way, reduced to what the studio needs: a panel's widgets bind to a state object in
both directions (a widget's change sets a field; a field's change updates the widget and, where
it changes the picture, asks for a render), so what the artist has chosen lives in one place
that tests and the command line can read without Qt, not in widgets read back into dicts.

* :class:`ExplorePage` - the page of seeds, truncation, class and noise of the Explore grid;
* :class:`MixSources` - the forms, styles and style layers of the Style Mix matrix;
* :class:`EvolutionChoices` - the artist's parents, locks and brought-in images in Evolve;
* :class:`ClipChoice` - the CLIP every prompt is scored with (Evolve sets it, Explore's Find uses it).

Nothing here imports torch or Qt (an import-linter contract keeps it so): these objects are
created before the engine has loaded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Sequence

from studio.gan.mixing import DEFAULT_LAYERS, preset_layers
from studio.gan.recipe import NOISE_MODES, ModelRef, Recipe
from studio.gan.render_settings import RenderSettings
from studio.gan.seeds import MAX_SEED

Listener = Callable[[str, Any], None]

#: The most forms or styles a matrix holds (8 x 8 cells).
MAX_SOURCES = 8


class Evented:
    """A dataclass mixin whose fields announce each change: ``listener(name, new value)``.

    Setting a field to the value it already has announces nothing, so a widget that echoes a
    change back does not start a loop. :meth:`update` sets several fields first and then announces
    each change, so listeners never see a half-made state (a new shape with the old page).
    """

    def __post_init__(self) -> None:
        object.__setattr__(self, "_listeners", [])
        object.__setattr__(self, "_names", {f.name for f in fields(self)})  # type: ignore[arg-type]

    def connect(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def disconnect(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def __setattr__(self, name: str, value: Any) -> None:
        names = getattr(self, "_names", None)
        if names is None or name not in names:
            object.__setattr__(self, name, value)
            return
        self.update(**{name: value})

    def update(self, **changes: Any) -> None:
        changed = []
        for name, value in changes.items():
            if name not in self._names:
                raise AttributeError(f"{type(self).__name__} has no field {name!r}")
            value = self._check(name, value)
            if getattr(self, name) != value:
                object.__setattr__(self, name, value)
                changed.append((name, value))
        for name, value in changed:
            for listener in list(self._listeners):
                listener(name, value)

    def _check(self, name: str, value: Any) -> Any:
        """Validate or normalise a new value (subclasses); raise ValueError to refuse it."""
        return value


@dataclass(eq=False)
class ExplorePage(Evented):
    """The Explore grid: which seeds are shown and how they are rendered."""

    rows: int = 3
    cols: int = 7
    page: int = 0
    truncation_psi: float = 1.0
    truncation_cutoff: int | None = None
    class_index: int | None = None
    noise_mode: str = "const"
    translate_x: float = 0.0     # StyleGAN3's view (see RenderSettings.translate / rotate)
    translate_y: float = 0.0
    rotate: float = 0.0
    edits: tuple = ()            # moves along latent directions (recipe Edits), applied to every seed
    tile: bool = False           # seamless tiles (StyleGAN2, SWAGAN)
    canvas: tuple | None = None  # a native wide or tall canvas: (width, height) quarters (StyleGAN2/3, SWAGAN)
    all_classes: bool = False    # a conditional model's every class, a row each (the page's first columns)

    #: Fields whose change re-renders the same seeds (the rest change which seeds are shown).
    RENDER_FIELDS = ("truncation_psi", "truncation_cutoff", "class_index", "noise_mode", "translate_x", "translate_y",
                     "rotate", "edits", "tile", "canvas")
    VIEW_FIELDS = ("translate_x", "translate_y", "rotate")

    def _check(self, name: str, value: Any) -> Any:
        if name in ("rows", "cols"):
            value = int(value)
            if not 1 <= value <= 8:
                raise ValueError(f"a page has 1 to 8 {name}, not {value}")
        elif name == "page":
            value = max(0, min(int(value), self.last_page))
        elif name == "truncation_psi":
            value = round(float(value), 3)
        elif name == "truncation_cutoff":
            value = int(value) or None if value is not None else None
        elif name == "noise_mode" and value not in NOISE_MODES:
            raise ValueError(f"noise mode must be one of {', '.join(NOISE_MODES)}, not {value!r}")
        elif name == "edits":
            value = tuple(e for e in value if e.amount != 0)    # a slider at zero is no edit
        elif name in self.VIEW_FIELDS:
            value = round(float(value), 4)
            limit = 360.0 if name == "rotate" else 10.0
            if not -limit <= value <= limit:       # also refuses nan
                raise ValueError(f"{name.replace('_', ' ')} must be within +-{limit:g}, not {value}")
        return value

    # -- which seeds ------------------------------------------------------------------------------
    @property
    def page_size(self) -> int:
        return self.rows * self.cols

    @property
    def last_page(self) -> int:
        return MAX_SEED // self.page_size

    @property
    def first_seed(self) -> int:
        return self.page * self.page_size

    def seeds(self) -> list[int]:
        start = self.first_seed
        return [s for s in range(start, start + self.page_size) if s <= MAX_SEED]

    def next_page(self) -> None:
        self.page += 1

    def prev_page(self) -> None:
        self.page -= 1

    def random_page(self, rng: random.Random | None = None) -> None:
        self.page = (rng or random).randrange(0, self.last_page)

    def go_to_seed(self, seed: int) -> None:
        """Show the page that holds ``seed``."""
        self.page = int(seed) // self.page_size

    def reshape(self, rows: int, cols: int) -> None:
        """A new grid shape that keeps the first seed on screen."""
        self.update(rows=rows, cols=cols, page=self.first_seed // (int(rows) * int(cols)))

    # -- how they render --------------------------------------------------------------------------
    def settings(self, noise_seed: int | None = None) -> RenderSettings:
        return RenderSettings(self.truncation_psi, self.truncation_cutoff, self.class_index, self.noise_mode,
                              noise_seed, (self.translate_x, self.translate_y), self.rotate, self.edits, self.tile,
                              self.canvas)

    def recipe_for(self, seed: int, model: ModelRef, class_index: int | None = None) -> Recipe:
        """The recipe of the image of ``seed`` as the page renders it (in ``class_index``'s row when
        every class is shown)."""
        klass = self.class_index if class_index is None else class_index
        return Recipe(model=model, seed=seed, class_index=klass, truncation_psi=self.truncation_psi,
                      truncation_cutoff=self.truncation_cutoff, noise_mode=self.noise_mode,
                      noise_seed=seed if self.noise_mode == "random" else None,
                      translate=(self.translate_x, self.translate_y), rotate=self.rotate, edits=list(self.edits),
                      tile=self.tile, canvas=list(self.canvas) if self.canvas else None)

    def reset_view(self) -> None:
        """Back to the network's own view (no translation, no rotation)."""
        self.update(translate_x=0.0, translate_y=0.0, rotate=0.0)

    def restore(self, recipe: Recipe) -> None:
        """Take a recipe's settings (a dropped PNG, a favourite) and show its seed's page."""
        self.update(truncation_psi=recipe.truncation_psi, truncation_cutoff=recipe.truncation_cutoff,
                    noise_mode=recipe.noise_mode, translate_x=recipe.translate[0], translate_y=recipe.translate[1],
                    rotate=recipe.rotate, edits=tuple(recipe.edits), tile=recipe.tile,
                    canvas=tuple(recipe.canvas) if recipe.canvas else None)
        if recipe.class_index is not None:
            self.class_index = recipe.class_index
        if recipe.seed is not None:
            self.go_to_seed(recipe.seed)


@dataclass(eq=False)
class MixSources(Evented):
    """The Style Mix matrix: forms (layout) across, styles (palette, texture) down, the style layers.

    A source is ``{"seed": n}`` or ``{"recipe": json}`` (an image that keeps its own look).
    """

    forms: list = field(default_factory=lambda: [{"seed": s} for s in range(7)])
    styles: list = field(default_factory=lambda: [{"seed": s} for s in range(100, 103)])
    layers: list = field(default_factory=lambda: list(DEFAULT_LAYERS))
    truncation_psi: float = 1.0
    class_index: int | None = None     # the class seeds render with, on a conditional model
    tile: bool = False                 # every image one period of a seamless texture
    canvas: tuple | None = None        # a native wide or tall canvas: (width, height) quarters

    def _check(self, name: str, value: Any) -> Any:
        if name in ("forms", "styles"):
            value = list(value)[:MAX_SOURCES]
            if not value:
                raise ValueError(f"a style mix needs at least one {name[:-1]}")
        elif name == "layers":
            value = sorted(set(int(i) for i in value))
        elif name == "truncation_psi":
            value = round(float(value), 3)
        return value

    def seeds(self, which: str, first: int, count: int) -> None:
        """``count`` consecutive seeds from ``first`` as the forms or the styles."""
        setattr(self, which + "s", [{"seed": int(first) + i} for i in range(count)])

    def recipes(self, which: str, recipes: Sequence[Recipe]) -> None:
        """Images (a selection, favourites) as the forms or the styles, each keeping its look."""
        setattr(self, which + "s", [{"recipe": r.to_json()} for r in recipes])

    def promote(self, which: str, recipe_json: str) -> None:
        """Add a cell's image as one more form or style (replacing the last when full)."""
        current = list(getattr(self, which + "s"))
        if len(current) < MAX_SOURCES:
            current.append({"recipe": recipe_json})
        else:
            current[-1] = {"recipe": recipe_json}
        setattr(self, which + "s", current)

    def preset(self, name: str, num_ws: int, scales: list[float] | None = None) -> None:
        self.layers = preset_layers(name, num_ws, scales)

    def settings(self) -> RenderSettings:
        return RenderSettings(truncation_psi=self.truncation_psi, class_index=self.class_index, tile=self.tile,
                              canvas=self.canvas)


@dataclass(eq=False)
class EvolutionChoices(Evented):
    """What the artist decides between generations: parents ticked, parents locked, images brought in."""

    chosen: list = field(default_factory=list)
    locked: list = field(default_factory=list)
    extras: list = field(default_factory=list)     # recipe JSON of images brought in as parents

    def clear(self) -> None:
        self.update(chosen=[], locked=[], extras=[])

    def toggle(self, ident: int) -> None:
        """Tick or untick one individual as a parent."""
        self.chosen = [i for i in self.chosen if i != ident] if ident in self.chosen else [*self.chosen, ident]

    def toggle_lock(self, ident: int) -> None:
        """Lock (kept in every generation) or unlock one individual."""
        self.locked = [i for i in self.locked if i != ident] if ident in self.locked else [*self.locked, ident]

    def bring(self, recipe_jsons: Sequence[str]) -> None:
        self.extras = [*self.extras, *recipe_jsons]


@dataclass(eq=False)
class ClipChoice(Evented):
    """The CLIP that scores prompts: ``default``, an open_clip ``NAME:TAG`` or a checkpoint (+ config)."""

    spec: str = "default"
    config: str | None = None

    def _check(self, name: str, value: Any) -> Any:
        text = (value or "").strip()
        if name == "spec":
            return text or "default"
        return text or None
