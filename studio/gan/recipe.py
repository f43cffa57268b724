"""Recipe: everything needed to re-create one image, as versioned JSON (data only).

A recipe names its model by fingerprint (plus a display name and the last known path), the
latent (a seed, or an explicit ``z`` or ``w`` array), the class, truncation, noise, an optional
style mix, and free-form post-processing / export settings. Its JSON looks like::

    {
      "studio_recipe": 1,
      "model": {"fingerprint": "ab12...", "name": "Abstract 256", "path": "/models/a.safetensors"},
      "seed": 42, "z": null, "w": null,
      "class_index": null,
      "truncation_psi": 0.7, "truncation_cutoff": null,
      "noise_mode": "const", "noise_seed": null,
      "mix": {"source": {"seed": 7, "z": null, "w": null}, "layers": [0, 1, 2, 3]},
      "translate": [0.0, 0.0], "rotate": 0.0,
      "postprocess": {}, "export": {},
      "created": "2025-01-31T12:00:00+00:00", "studio_version": "0.1.0"
    }

Arrays are stored bit-exactly as ``{"dtype": "float32", "shape": [...], "b64": "..."}`` (base64
of the little-endian bytes). How a recipe travels inside PNG / TIFF / JPEG / WebP files, and
how it is read back from them, is :mod:`studio.imaging.metadata`'s business.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, Mapping

import numpy as np

from studio import __version__

__all__ = [
    "RECIPE_VERSION",
    "NOISE_MODES",
    "ModelRef",
    "Latent",
    "StyleMix",
    "Edit",
    "Recipe",
]

#: Version of the recipe JSON format this studio writes and the newest it reads.
RECIPE_VERSION = 1


#: Allowed values of :attr:`Recipe.noise_mode`.
NOISE_MODES = ("const", "random", "none")

#: The key that marks a JSON object as a recipe; its value is the format version.
VERSION_KEY = "studio_recipe"
_MAX_SEED = 2**32 - 1


# ---------------------------------------------------------------------------------------------
# Small validators (each raises ValueError naming the field)
# ---------------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    """True for ints (numpy ints included) but not bools."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_optional_int(name: str, value: Any, low: int = 0, high: int | None = None) -> int | None:
    """Return ``value`` as int (or None), checking it is a whole number in ``[low, high]``."""
    if value is None:
        return None
    if not _is_int(value):
        raise ValueError(f"recipe field '{name}' must be a whole number or null, got {value!r}")
    if value < low or (high is not None and value > high):
        upper = "" if high is None else f" to {high}"
        raise ValueError(f"recipe field '{name}' is out of range: {value} (allowed: {low}{upper})")
    return int(value)


MAX_VIEW_TRANSLATE = 1e4   # StyleGAN3 view bounds: far beyond any useful view, short of overflow
MAX_VIEW_ROTATE = 1e6


def _check_finite(name: str, value: Any, bound: float) -> float:
    """Return ``value`` as a float, checking it is a finite number within +-``bound``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"recipe field '{name}' must be a number, got {value!r}")
    if not math.isfinite(value) or abs(value) > bound:
        raise ValueError(f"recipe field '{name}' must be a finite number within +-{bound:g}, got {value!r}")
    return float(value)


def _check_view_translate(value: Any) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"recipe field 'translate' must be a pair of numbers [x, y], got {value!r}")
    return (_check_finite("translate", value[0], MAX_VIEW_TRANSLATE),
            _check_finite("translate", value[1], MAX_VIEW_TRANSLATE))


def _check_str(name: str, value: Any, optional: bool = False) -> str | None:
    """Return ``value`` when it is a string (or None when ``optional``)."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        kind = "text or null" if optional else "text"
        raise ValueError(f"recipe field '{name}' must be {kind}, got {value!r}")
    return value


def _check_array(name: str, value: Any) -> np.ndarray | None:
    """Return ``value`` as a float32 numpy array (or None)."""
    if value is None:
        return None
    try:
        return np.ascontiguousarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"recipe field '{name}' must be an array of numbers") from None


def _check_timestamp(name: str, value: Any) -> str:
    """Return ``value`` when it is an ISO 8601 timestamp string."""
    text = _check_str(name, value)
    try:
        datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(f"recipe field '{name}' is not an ISO 8601 time: {text!r}") from None
    return text


def _arrays_equal(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Compare two optional arrays by shape and value."""
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and bool(np.array_equal(a, b))


def _now() -> str:
    """The current UTC time as an ISO 8601 string with seconds precision."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _expect_object(name: str, value: Any) -> Mapping[str, Any]:
    """Return ``value`` when it is a JSON object (dict)."""
    if not isinstance(value, Mapping):
        raise ValueError(f"recipe field '{name}' must be an object, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------
# Array <-> JSON
# ---------------------------------------------------------------------------------------------


def _array_to_dict(array: np.ndarray) -> dict[str, Any]:
    """Encode a float32 array as ``{"dtype", "shape", "b64"}`` (little-endian bytes)."""
    data = np.ascontiguousarray(array, dtype="<f4").tobytes()
    return {"dtype": "float32", "shape": list(array.shape), "b64": base64.b64encode(data).decode("ascii")}


def _array_from_dict(name: str, value: Any) -> np.ndarray | None:
    """Decode :func:`_array_to_dict` output (or null), validating every part."""
    if value is None:
        return None
    obj = _expect_object(name, value)
    if obj.get("dtype") != "float32":
        raise ValueError(f"recipe field '{name}' must have dtype 'float32', got {obj.get('dtype')!r}")
    shape = obj.get("shape")
    if not isinstance(shape, list) or not all(_is_int(n) and n >= 0 for n in shape):
        raise ValueError(f"recipe field '{name}.shape' must be a list of sizes, got {shape!r}")
    b64 = obj.get("b64")
    if not isinstance(b64, str):
        raise ValueError(f"recipe field '{name}.b64' must be base64 text")
    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"recipe field '{name}.b64' is not valid base64") from None
    expected = math.prod(shape) * 4
    if len(data) != expected:
        raise ValueError(
            f"recipe field '{name}' holds {len(data)} bytes but shape {shape} needs {expected}"
        )
    return np.frombuffer(data, dtype="<f4").astype(np.float32).reshape(shape)


# ---------------------------------------------------------------------------------------------
# Parts of a recipe
# ---------------------------------------------------------------------------------------------


@dataclass
class ModelRef:
    """Which network made the image: its fingerprint, display name and last known path."""

    fingerprint: str
    name: str = ""
    path: str | None = None

    def __post_init__(self) -> None:
        _check_str("model.fingerprint", self.fingerprint)
        _check_str("model.name", self.name)
        if isinstance(self.path, os.PathLike):
            self.path = os.fspath(self.path)
        _check_str("model.path", self.path, optional=True)
        if not self.fingerprint:
            raise ValueError("recipe field 'model.fingerprint' must not be empty")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object for this model reference."""
        return {"fingerprint": self.fingerprint, "name": self.name, "path": self.path}

    @classmethod
    def from_dict(cls, value: Any) -> ModelRef:
        """Parse the ``model`` object of a recipe."""
        obj = _expect_object("model", value)
        if "fingerprint" not in obj:
            raise ValueError("recipe field 'model.fingerprint' is missing")
        return cls(fingerprint=obj["fingerprint"], name=obj.get("name", ""), path=obj.get("path"))


@dataclass(eq=False)
class Latent:
    """One latent: a seed, an explicit z array or an explicit w array (at most one of them)."""

    seed: int | None = None
    z: np.ndarray | None = None
    w: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.seed = _check_optional_int("seed", self.seed, 0, _MAX_SEED)
        self.z = _check_array("z", self.z)
        self.w = _check_array("w", self.w)
        given = [name for name in ("seed", "z", "w") if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(f"a recipe latent is a seed, a z or a w, not several (got {', '.join(given)})")

    @property
    def is_empty(self) -> bool:
        """True when no seed, z or w is set."""
        return self.seed is None and self.z is None and self.w is None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Latent):
            return NotImplemented
        return (
            self.seed == other.seed
            and _arrays_equal(self.z, other.z)
            and _arrays_equal(self.w, other.w)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields ``seed``, ``z``, ``w`` (absent ones as null)."""
        return {
            "seed": self.seed,
            "z": None if self.z is None else _array_to_dict(self.z),
            "w": None if self.w is None else _array_to_dict(self.w),
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any], prefix: str = "") -> Latent:
        """Parse ``seed`` / ``z`` / ``w`` from a JSON object; ``prefix`` names it in errors."""
        return cls(
            seed=_check_optional_int(f"{prefix}seed", obj.get("seed"), 0, _MAX_SEED),
            z=_array_from_dict(f"{prefix}z", obj.get("z")),
            w=_array_from_dict(f"{prefix}w", obj.get("w")),
        )


@dataclass
class StyleMix:
    """A style mix: the given layers take their w from ``source`` instead of the main latent."""

    source: Latent
    layers: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.source, Latent):
            raise ValueError("recipe field 'mix.source' must be a latent (seed, z or w)")
        if self.source.is_empty:
            raise ValueError("recipe field 'mix.source' needs a seed, a z or a w")
        if not isinstance(self.layers, (list, tuple)):
            raise ValueError(f"recipe field 'mix.layers' must be a list of layer indices, got {self.layers!r}")
        self.layers = [_check_optional_int("mix.layers", i) for i in self.layers]
        if None in self.layers:
            raise ValueError("recipe field 'mix.layers' must hold layer indices, not null")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object for this mix."""
        return {"source": self.source.to_dict(), "layers": list(self.layers)}

    @classmethod
    def from_dict(cls, value: Any) -> StyleMix:
        """Parse the ``mix`` object of a recipe."""
        obj = _expect_object("mix", value)
        source = Latent.from_dict(_expect_object("mix.source", obj.get("source")), "mix.source.")
        return cls(source=source, layers=obj.get("layers", []))


MAX_EDIT_AMOUNT = 100.0


@dataclass(eq=False)
class Edit:
    """A move along a latent direction: ``w[layers] += amount * vector`` (all layers when None).

    ``vector`` is the direction already scaled by its spread, so ``amount`` counts standard
    deviations and the recipe needs no direction file to re-create the image."""

    name: str
    vector: np.ndarray
    amount: float
    layers: list[int] | None = None

    def __post_init__(self) -> None:
        self.name = _check_str("edits.name", self.name) or "edit"
        vector = _check_array("edits.vector", self.vector)
        if vector is None or vector.ndim != 1 or not np.isfinite(vector).all():
            raise ValueError("recipe field 'edits.vector' must be one finite vector")
        self.vector = vector
        self.amount = _check_finite("edits.amount", self.amount, MAX_EDIT_AMOUNT)
        if self.layers is not None:
            if not isinstance(self.layers, (list, tuple)):
                raise ValueError(f"recipe field 'edits.layers' must be a list of layer indices, got {self.layers!r}")
            self.layers = [_check_optional_int("edits.layers", i) for i in self.layers]
            if None in self.layers:
                raise ValueError("recipe field 'edits.layers' must hold layer indices, not null")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Edit):
            return NotImplemented
        return (self.name, self.amount, self.layers) == (other.name, other.amount, other.layers) and \
            _arrays_equal(self.vector, other.vector)

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "vector": _array_to_dict(self.vector), "amount": self.amount, "layers": self.layers}

    @classmethod
    def from_dict(cls, value: Any) -> Edit:
        obj = _expect_object("edits", value)
        return cls(name=obj.get("name", "edit"), vector=_array_from_dict("edits.vector", obj.get("vector")),
                   amount=obj.get("amount", 0.0), layers=obj.get("layers"))


MAX_REGIONS = 9               # the recipe's own latent and up to 8 more, painted with the digits 0-8
MAX_LABEL_CELLS = 64          # a region map is at most 64 x 64 cells, stretched over the canvas
MAX_FEATHER = 0.5


@dataclass(eq=False)
class Regions:
    """Many latents on one canvas (a panorama, a triptych).

    ``labels`` paints the canvas with rows of digits, stretched over it: 0 is the recipe's own latent,
    n is ``latents[n - 1]``. The regions render apart up to the ``blend`` px block of the network, then
    meet there in feature space; ``feather`` is how far their styles cross-fade, as a fraction of the
    canvas' short side.
    """

    labels: list[str]
    latents: list[Latent]
    blend: int = 16
    feather: float = 0.1

    def __post_init__(self) -> None:
        rows = self.labels
        if (not isinstance(rows, (list, tuple)) or not 1 <= len(rows) <= MAX_LABEL_CELLS
                or not all(isinstance(r, str) and 1 <= len(r) <= MAX_LABEL_CELLS for r in rows)
                or len({len(r) for r in rows}) != 1):
            raise ValueError(f"recipe field 'regions.labels' must be 1 to {MAX_LABEL_CELLS} rows of digits of "
                             "one length (at most 64)")
        if not isinstance(self.latents, (list, tuple)) or not all(isinstance(v, Latent) for v in self.latents) \
                or not 1 <= len(self.latents) < MAX_REGIONS or any(v.is_empty for v in self.latents):
            raise ValueError(f"recipe field 'regions.latents' must hold 1 to {MAX_REGIONS - 1} latents (seed, z or w)")
        used = set("".join(rows))
        allowed = {str(i) for i in range(len(self.latents) + 1)}
        if not used <= allowed:
            raise ValueError(f"recipe field 'regions.labels' may use the digits 0-{len(self.latents)}, "
                             f"got {''.join(sorted(used - allowed))}")
        self.labels, self.latents = list(rows), list(self.latents)
        if not _is_int(self.blend) or not 4 <= self.blend <= 4096 or self.blend & (self.blend - 1):
            raise ValueError(f"recipe field 'regions.blend' must be a block resolution (4, 8, 16 ... px), "
                             f"got {self.blend!r}")
        self.blend = int(self.blend)
        self.feather = _check_finite("regions.feather", self.feather, MAX_FEATHER)
        if self.feather < 0:
            raise ValueError(f"recipe field 'regions.feather' must be from 0 to {MAX_FEATHER}, got {self.feather!r}")

    @property
    def count(self) -> int:
        """How many latents share the canvas (the recipe's own included)."""
        return len(self.latents) + 1

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Regions):
            return NotImplemented
        return (self.labels, self.latents, self.blend, self.feather) == \
            (other.labels, other.latents, other.blend, other.feather)

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "latents": [v.to_dict() for v in self.latents], "blend": self.blend,
                "feather": self.feather}

    @classmethod
    def from_dict(cls, value: Any) -> Regions:
        obj = _expect_object("regions", value)
        latents = obj.get("latents")
        if not isinstance(latents, list) or len(latents) >= MAX_REGIONS:
            raise ValueError(f"recipe field 'regions.latents' must be a list of at most {MAX_REGIONS - 1} latents")
        return cls(labels=obj.get("labels"),
                   latents=[Latent.from_dict(_expect_object("regions.latents", v), "regions.latents.") for v in latents],
                   blend=obj.get("blend", 16), feather=obj.get("feather", 0.1))


# ---------------------------------------------------------------------------------------------
# The recipe
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Recipe:
    """Everything needed to re-create one image. Only ``model`` is required.

    The latent is ``seed`` *or* ``z`` *or* ``w`` (at most one). Arrays are float32 numpy
    arrays of any shape (other inputs are converted). Equality compares arrays by value.
    Invalid values raise ``ValueError`` with a message naming the field.
    """

    model: ModelRef
    seed: int | None = None
    z: np.ndarray | None = None
    w: np.ndarray | None = None
    class_index: int | None = None
    truncation_psi: float = 1.0
    truncation_cutoff: int | None = None
    noise_mode: str = "const"
    noise_seed: int | None = None
    mix: StyleMix | None = None
    translate: tuple[float, float] = (0.0, 0.0)   # StyleGAN3's view (gen_images.py --translate / --rotate)
    rotate: float = 0.0
    edits: list[Edit] = field(default_factory=list)   # moves along latent directions, after the mix
    tile: bool = False                                # one period of a seamless texture
    canvas: list[int] | None = None                   # native canvas [width, height] in quarters of the side
    regions: Regions | None = None                    # more latents sharing the canvas with this one
    postprocess: dict[str, Any] = field(default_factory=dict)
    export: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=_now)
    studio_version: str = __version__

    def __post_init__(self) -> None:
        if not isinstance(self.model, ModelRef):
            raise ValueError("recipe field 'model' must be a ModelRef")
        latent = Latent(self.seed, self.z, self.w)  # validates and converts
        self.seed, self.z, self.w = latent.seed, latent.z, latent.w
        self.class_index = _check_optional_int("class_index", self.class_index)
        self.truncation_psi = self._checked_psi(self.truncation_psi)
        self.truncation_cutoff = _check_optional_int("truncation_cutoff", self.truncation_cutoff)
        if self.noise_mode not in NOISE_MODES:
            raise ValueError(
                f"recipe field 'noise_mode' must be one of {', '.join(NOISE_MODES)}, got {self.noise_mode!r}"
            )
        self.noise_seed = _check_optional_int("noise_seed", self.noise_seed, 0, _MAX_SEED)
        self.translate = _check_view_translate(self.translate)
        self.rotate = _check_finite("rotate", self.rotate, MAX_VIEW_ROTATE)
        if not isinstance(self.edits, (list, tuple)) or not all(isinstance(e, Edit) for e in self.edits):
            raise ValueError("recipe field 'edits' must be a list of edits")
        if len(self.edits) > 64:
            raise ValueError(f"recipe field 'edits' holds {len(self.edits)} edits; a recipe keeps at most 64")
        self.edits = list(self.edits)
        if not isinstance(self.tile, bool):
            raise ValueError(f"recipe field 'tile' must be true or false, got {self.tile!r}")
        if self.canvas is not None:
            if (not isinstance(self.canvas, (list, tuple)) or len(self.canvas) != 2
                    or not all(_is_int(v) and 4 <= v <= 20 for v in self.canvas) or min(self.canvas) != 4):
                raise ValueError(f"recipe field 'canvas' must be [width, height] quarters from 4 to 20 with one side 4, "
                                 f"got {self.canvas!r}")
            self.canvas = [int(v) for v in self.canvas]
        if self.regions is not None:
            if not isinstance(self.regions, Regions):
                raise ValueError("recipe field 'regions' must be Regions or None")
            if latent.is_empty:
                raise ValueError("a recipe with regions needs its own latent (seed, z or w) for region 0")
        if self.mix is not None and not isinstance(self.mix, StyleMix):
            raise ValueError("recipe field 'mix' must be a StyleMix or None")
        for name in ("postprocess", "export"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"recipe field '{name}' must be an object, got {getattr(self, name)!r}")
        _check_timestamp("created", self.created)
        _check_str("studio_version", self.studio_version)

    @staticmethod
    def _checked_psi(value: Any) -> float:
        """Return the truncation psi as a finite float."""
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"recipe field 'truncation_psi' must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"recipe field 'truncation_psi' must be finite, got {value!r}")
        return float(value)

    @property
    def latent(self) -> Latent:
        """The main latent (seed, z or w) as a :class:`Latent`."""
        return Latent(self.seed, self.z, self.w)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Recipe):
            return NotImplemented
        if self.latent != other.latent:
            return False
        others = [f.name for f in fields(self) if f.name not in ("seed", "z", "w")]
        return all(getattr(self, name) == getattr(other, name) for name in others)

    __hash__ = None  # type: ignore[assignment]  # mutable

    # -- JSON ------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The recipe as a JSON-ready dict with a fixed key order."""
        return {
            VERSION_KEY: RECIPE_VERSION,
            "model": self.model.to_dict(),
            **self.latent.to_dict(),
            "class_index": self.class_index,
            "truncation_psi": self.truncation_psi,
            "truncation_cutoff": self.truncation_cutoff,
            "noise_mode": self.noise_mode,
            "noise_seed": self.noise_seed,
            "mix": None if self.mix is None else self.mix.to_dict(),
            "translate": list(self.translate),
            "rotate": self.rotate,
            "edits": [e.to_dict() for e in self.edits],
            "tile": self.tile,
            "canvas": self.canvas,
            "regions": None if self.regions is None else self.regions.to_dict(),
            "postprocess": self.postprocess,
            "export": self.export,
            "created": self.created,
            "studio_version": self.studio_version,
        }

    def to_json(self) -> str:
        """The recipe as JSON text: fixed key order, two-space indent, UTF-8 characters kept."""
        try:
            return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"recipe settings cannot be saved as JSON: {exc}") from None

    @classmethod
    def from_dict(cls, data: Any) -> Recipe:
        """Build a recipe from a parsed JSON object, validating version and types.

        Unknown keys are ignored so that additions within format version 1 stay readable.
        """
        obj = _expect_object("recipe", data)
        _check_version(obj.get(VERSION_KEY))
        if "model" not in obj:
            raise ValueError("recipe field 'model' is missing")
        latent = Latent.from_dict(obj)
        mix = obj.get("mix")
        return cls(
            model=ModelRef.from_dict(obj["model"]),
            seed=latent.seed,
            z=latent.z,
            w=latent.w,
            class_index=obj.get("class_index"),
            truncation_psi=obj.get("truncation_psi", 1.0),
            truncation_cutoff=obj.get("truncation_cutoff"),
            noise_mode=obj.get("noise_mode", "const"),
            noise_seed=obj.get("noise_seed"),
            mix=None if mix is None else StyleMix.from_dict(mix),
            translate=obj.get("translate", (0.0, 0.0)),
            rotate=obj.get("rotate", 0.0),
            edits=_edits_from(obj.get("edits", [])),
            tile=obj.get("tile", False),
            canvas=obj.get("canvas"),
            regions=None if obj.get("regions") is None else Regions.from_dict(obj["regions"]),
            postprocess=obj.get("postprocess", {}),
            export=obj.get("export", {}),
            created=obj.get("created", _now()),
            studio_version=obj.get("studio_version", "unknown"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Recipe:
        """Parse recipe JSON. Raises ``ValueError`` with a clear message on any problem."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"the recipe is not valid JSON: {exc}") from None
        except RecursionError:
            raise ValueError("the recipe is nested too deeply to be a studio recipe") from None
        return cls.from_dict(data)


def _edits_from(value: Any) -> list[Edit]:
    if not isinstance(value, list):
        raise ValueError(f"recipe field 'edits' must be a list, got {type(value).__name__}")
    if len(value) > 64:
        raise ValueError(f"recipe field 'edits' holds {len(value)} edits; a recipe keeps at most 64")
    return [Edit.from_dict(item) for item in value]


def _check_version(version: Any) -> None:
    """Accept recipe format versions this studio understands; explain anything else."""
    if version is None:
        raise ValueError(f"not a studio recipe (no '{VERSION_KEY}' version field)")
    if not _is_int(version) or version < 1:
        raise ValueError(f"not a valid studio recipe: unknown format version {version!r}")
    if version > RECIPE_VERSION:
        raise ValueError(
            f"this recipe was made by a newer version of the studio (recipe format {version}; "
            f"this studio reads up to {RECIPE_VERSION}); update the studio to open it"
        )
