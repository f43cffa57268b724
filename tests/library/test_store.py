"""The library store: adding, reading, filtering, editing, deleting, models, collections."""

from __future__ import annotations

import io
import sqlite3

import numpy as np
import pytest
from PIL import Image

from studio.core.errors import StudioError
from studio.core.paths import library_db_path
from studio.gan.recipe import Latent, ModelRef, Recipe, StyleMix
from studio.library import (
    THUMBNAIL_SIZE,
    ImageNotFoundError,
    Library,
    LibraryError,
    LibraryImage,
    recipe_key,
)
from tests.library.helpers import FINGERPRINT_A, FINGERPRINT_B, make_image, make_recipe

# ---------------------------------------------------------------------------------------------
# Opening
# ---------------------------------------------------------------------------------------------


def test_default_path_and_pragmas(library):
    assert library.path == library_db_path()
    assert library.path.is_file()
    db = sqlite3.connect(library.path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        db.close()
    conn = library._db
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert library.integrity_check() == "ok"
    assert len(library) == 0


def test_explicit_path_and_context_manager(tmp_path):
    path = tmp_path / "sub" / "lib.sqlite3"
    with Library(path) as lib:
        lib.add(make_recipe(), make_image())
    assert lib.closed
    with pytest.raises(LibraryError, match="closed"):
        lib.get(1)
    lib.close()  # twice is fine
    assert path.is_file()


# ---------------------------------------------------------------------------------------------
# Adding and reading
# ---------------------------------------------------------------------------------------------


def test_add_and_get_round_trip(library):
    recipe = make_recipe(seed=11, truncation_psi=0.7, postprocess={"levels": [0, 255]})
    image_id = library.add(
        recipe, make_image((1024, 512)), stars=4, tags=["blue", "  Dark   sky "], note="nice", source="explore"
    )
    item = library.get(image_id)
    assert isinstance(item, LibraryImage)
    assert item.id == image_id
    assert item.recipe == recipe
    assert Recipe.from_json(item.recipe_json) == recipe
    assert item.model_fingerprint == FINGERPRINT_A and item.model_name == "m"
    assert item.stars == 4 and item.note == "nice" and item.source == "explore"
    assert item.tags == ["blue", "Dark sky"]
    assert (item.width, item.height) == (1024, 512)
    assert item.created.endswith("+00:00")
    thumb = item.thumbnail()
    assert thumb.size == (THUMBNAIL_SIZE, THUMBNAIL_SIZE // 2)
    assert item.thumbnail_png.startswith(b"\x89PNG")


def test_thumbnail_from_bytes_small_and_explicit_size(library):
    buffer = io.BytesIO()
    Image.new("RGBA", (40, 30), (1, 2, 3, 4)).save(buffer, format="PNG")
    image_id = library.add(make_recipe(), buffer.getvalue(), size=(4096, 3072))
    item = library.get(image_id)
    assert item.thumbnail().size == (40, 30)  # never upscaled
    assert item.thumbnail().mode == "RGBA"
    assert (item.width, item.height) == (4096, 3072)
    # other formats and modes become PNG
    jpeg = io.BytesIO()
    Image.new("RGB", (600, 300)).save(jpeg, format="JPEG")
    item = library.get(library.add(make_recipe(seed=4), jpeg.getvalue()))
    assert item.thumbnail_png.startswith(b"\x89PNG") and item.thumbnail().size == (256, 128)
    item = library.get(library.add(make_recipe(seed=5), Image.new("F", (300, 10))))
    assert item.thumbnail().mode == "RGB"


def test_add_validates_before_writing(library):
    recipe = make_recipe()
    with pytest.raises(ValueError, match="stars"):
        library.add(recipe, make_image(), stars=6)
    with pytest.raises(ValueError, match="stars"):
        library.add(recipe, make_image(), stars=-1)
    with pytest.raises(ValueError, match="stars"):
        library.add(recipe, make_image(), stars=True)
    with pytest.raises(ValueError, match="not a readable image"):
        library.add(recipe, b"not an image")
    with pytest.raises(ValueError, match="tag"):
        library.add(recipe, make_image(), tags=["ok", "  "])
    with pytest.raises(ValueError, match="size"):
        library.add(recipe, make_image(), size=(0, 5))
    with pytest.raises(ValueError, match="Recipe"):
        library.add(recipe.to_json(), make_image())  # type: ignore[arg-type]
    assert len(library) == 0
    assert library.models() == []


def test_get_missing(library):
    with pytest.raises(ImageNotFoundError, match="no image with id 42") as info:
        library.get(42)
    assert isinstance(info.value, StudioError) and isinstance(info.value, KeyError)
    assert 42 not in library


def test_unreadable_stored_recipe_is_kept_as_text(library):
    image_id = library.add(make_recipe(), make_image())
    text = library.get(image_id).recipe_json.replace('"studio_recipe": 1', '"studio_recipe": 99')
    library._db.execute("UPDATE images SET recipe_json = ? WHERE id = ?", (text, image_id))
    item = library.get(image_id)
    assert item.recipe is None and item.recipe_json == text


# ---------------------------------------------------------------------------------------------
# Query, count, order, paging
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def filled(library):
    """Six images over two models with stars, tags and notes; returns (library, ids)."""
    specs = [
        (FINGERPRINT_A, "Abstract", 1, ["blue"], "first light"),
        (FINGERPRINT_A, "Abstract", 5, ["blue", "red"], "a red storm"),
        (FINGERPRINT_B, "Faces", 3, ["red"], ""),
        (FINGERPRINT_B, "Faces", 0, [], "100% weird_one"),
        (FINGERPRINT_A, "Abstract", 3, ["Blue"], "Storm over sea"),
        (FINGERPRINT_B, "Faces", 5, [], "portrait"),
    ]
    ids = []
    for seed, (fingerprint, name, stars, tags, note) in enumerate(specs):
        recipe = make_recipe(seed=seed, fingerprint=fingerprint, name=name)
        ids.append(library.add(recipe, make_image(), stars=stars, tags=tags, note=note))
    return library, ids


def test_query_order(filled):
    library, ids = filled
    assert [i.id for i in library.query()] == ids[::-1]
    assert [i.id for i in library.query(order="oldest")] == ids
    assert [i.id for i in library.query(order="stars")] == [ids[5], ids[1], ids[4], ids[2], ids[0], ids[3]]
    with pytest.raises(ValueError, match="order"):
        library.query(order="random")


def test_query_filters_and_count(filled):
    library, ids = filled
    assert {i.id for i in library.query(model=FINGERPRINT_B)} == {ids[2], ids[3], ids[5]}
    assert {i.id for i in library.query(tag="blue")} == {ids[0], ids[1], ids[4]}  # case ignored
    assert {i.id for i in library.query(tag=["blue", "red"])} == {ids[1]}
    assert {i.id for i in library.query(min_stars=3)} == {ids[1], ids[2], ids[4], ids[5]}
    assert {i.id for i in library.query(text="storm")} == {ids[1], ids[4]}
    assert {i.id for i in library.query(text="faces")} == {ids[2], ids[3], ids[5]}  # model name
    assert {i.id for i in library.query(text="red storm")} == {ids[1]}  # every word
    assert {i.id for i in library.query(text="100%")} == {ids[3]}  # LIKE wildcards escaped
    assert library.query(text="_") == [library.get(ids[3])]
    assert library.query(text="x%y") == []
    assert {i.id for i in library.query(model=FINGERPRINT_A, min_stars=3, tag="BLUE")} == {ids[1], ids[4]}
    assert library.count() == 6
    assert library.count(model=FINGERPRINT_A, min_stars=3) == 2
    assert library.count(tag="nothing") == 0
    assert library.count(text="storm", model=FINGERPRINT_B) == 0
    assert {i.id for i in library.query(text="storm " * 600)} == {ids[1], ids[4]}   # repeats count once
    with pytest.raises(LibraryError, match="at most 64 different words; this one has 600"):
        library.query(text=" ".join(f"w{k}" for k in range(600)))
    with pytest.raises(ValueError):
        library.query(min_stars=9)


def test_query_pagination(filled):
    library, ids = filled
    newest = ids[::-1]
    assert [i.id for i in library.query(limit=2)] == newest[:2]
    assert [i.id for i in library.query(limit=2, offset=2)] == newest[2:4]
    assert [i.id for i in library.query(offset=4)] == newest[4:]
    assert library.query(limit=0) == []
    assert library.query(limit=5, offset=10) == []
    pages = [library.query(order="stars", limit=4, offset=o) for o in (0, 4)]
    assert [i.id for page in pages for i in page] == [i.id for i in library.query(order="stars")]
    with pytest.raises(ValueError, match="offset"):
        library.query(offset=-1)
    with pytest.raises(ValueError, match="limit"):
        library.query(limit=-2)


# ---------------------------------------------------------------------------------------------
# Editing
# ---------------------------------------------------------------------------------------------


def test_stars_bounds_and_many(filled):
    library, ids = filled
    library.set_stars(ids[0], 0)
    assert library.get(ids[0]).stars == 0
    library.set_stars(ids[:3], 5)
    assert [library.get(i).stars for i in ids[:3]] == [5, 5, 5]
    for bad in (6, -1, 2.5, None, True):
        with pytest.raises(ValueError):
            library.set_stars(ids[0], bad)
    with pytest.raises(ImageNotFoundError):
        library.set_stars([ids[1], 999], 1)
    assert library.get(ids[1]).stars == 5  # that write did not happen at all
    # the database enforces the range too
    with pytest.raises(sqlite3.IntegrityError):
        library._db.execute("UPDATE images SET stars = 7 WHERE id = ?", (ids[0],))


def test_notes(library):
    image_id = library.add(make_recipe(), make_image(), note="draft")
    library.set_note(image_id, "final — ünïcode ✓\nsecond line")
    assert library.get(image_id).note == "final — ünïcode ✓\nsecond line"
    library.set_note(image_id, "")
    assert library.get(image_id).note == ""
    with pytest.raises(ValueError):
        library.set_note(image_id, None)  # type: ignore[arg-type]
    with pytest.raises(ImageNotFoundError):
        library.set_note(999, "x")


def test_tags(filled):
    library, ids = filled
    assert library.all_tags() == [("blue", 3), ("red", 2)]
    library.add_tags(ids[0], "Sky")  # one string is one tag
    library.add_tags([ids[0], ids[2]], ["sky", "red", "RED"])
    assert library.get(ids[0]).tags == ["blue", "red", "Sky"]
    assert library.get(ids[2]).tags == ["red", "sky"]
    assert library.all_tags() == [("blue", 3), ("red", 3), ("Sky", 2)]
    library.remove_tags(ids[0], ["SKY", "absent"])
    assert library.get(ids[0]).tags == ["blue", "red"]
    library.remove_tags(ids, "red")
    assert library.count(tag="red") == 0
    with pytest.raises(ValueError):
        library.add_tags(ids[0], [""])
    with pytest.raises(ImageNotFoundError):
        library.add_tags(12345, "x")


def test_all_tags_order(library):
    for seed, tags in enumerate([["b", "a"], ["b"], ["c"], ["a", "b"]]):
        library.add(make_recipe(seed=seed), make_image(), tags=tags)
    assert library.all_tags() == [("b", 3), ("a", 2), ("c", 1)]


def test_delete_cascades_tags_and_collection_items(filled):
    library, ids = filled
    cid = library.create_collection("Best")
    library.add_to_collection(cid, [ids[1], ids[2], ids[3]])
    assert library.delete([ids[1], ids[2], 999]) == 2
    assert ids[1] not in library and ids[2] not in library
    db = library._db
    assert db.execute("SELECT count(*) FROM tags WHERE image_id IN (?, ?)", (ids[1], ids[2])).fetchone()[0] == 0
    assert [i.id for i in library.collection_items(cid)] == [ids[3]]
    assert library.collections()[0].size == 1
    assert library.all_tags() == [("blue", 2)]
    assert library.delete(ids[0]) == 1
    assert library.delete([]) == 0
    # ids are never reused
    new_id = library.add(make_recipe(seed=77), make_image())
    assert new_id > max(ids)


def test_every_write_is_one_transaction(filled):
    library, ids = filled
    cid = library.create_collection("c")
    with pytest.raises(ImageNotFoundError):
        library.add_to_collection(cid, [ids[0], 424242])
    assert library.collection_items(cid) == []
    with pytest.raises(ImageNotFoundError):
        library.add_tags([ids[0], 424242], "new")
    assert "new" not in library.get(ids[0]).tags
    assert not library._db.in_transaction


# ---------------------------------------------------------------------------------------------
# Dedupe
# ---------------------------------------------------------------------------------------------


def test_star_twice_does_not_duplicate(library):
    first = make_recipe(seed=8, truncation_psi=0.5)
    # the same image, starred again later, from a renamed / moved model file
    again = Recipe(
        model=ModelRef(fingerprint=FINGERPRINT_A, name="renamed", path="/elsewhere/m.safetensors"),
        seed=8,
        truncation_psi=0.5,
        created="2031-01-01T00:00:00+00:00",
        studio_version="9.9",
    )
    assert recipe_key(first) == recipe_key(again)
    image_id = library.star(first, make_image(), stars=3, source="explore")
    assert library.find_by_recipe(again) == image_id
    assert library.star(again, make_image(), stars=5) == image_id
    assert len(library) == 1 and library.get(image_id).stars == 3
    # anything that changes the picture is a different image
    for other in (
        make_recipe(seed=9, truncation_psi=0.5),
        make_recipe(seed=8, truncation_psi=0.6),
        make_recipe(seed=8, truncation_psi=0.5, fingerprint=FINGERPRINT_B),
        make_recipe(seed=8, truncation_psi=0.5, postprocess={"contrast": 1.2}),
        make_recipe(seed=8, truncation_psi=0.5, mix=StyleMix(Latent(seed=1), [0, 1])),
    ):
        assert library.find_by_recipe(other) is None
    # explicit latents compare bit-exactly
    z = np.arange(8, dtype=np.float32)
    with_z = Recipe(model=ModelRef(FINGERPRINT_A), z=z)
    z_id = library.star(with_z, make_image())
    assert library.star(Recipe(model=ModelRef(FINGERPRINT_A), z=z.copy()), make_image()) == z_id
    assert library.find_by_recipe(Recipe(model=ModelRef(FINGERPRINT_A), z=z + 1e-6)) is None
    # add() itself always adds
    assert library.add(first, make_image()) != image_id
    assert library.find_by_recipe(first) == image_id  # the oldest one


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


def test_models_table(library, monkeypatch):
    from datetime import datetime, timedelta, timezone

    import studio.library.store as store

    ticks = iter(range(1000))
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    monkeypatch.setattr(  # a clock that always moves on, so "last seen" order is certain
        store, "_now", lambda: (start + timedelta(seconds=next(ticks))).isoformat(timespec="milliseconds")
    )
    library.remember_model(FINGERPRINT_B, "Faces", "/models/faces.pkl")
    recipe = Recipe(model=ModelRef(FINGERPRINT_A, "Abstract", "/models/a.safetensors"), seed=1)
    library.add(recipe, make_image())
    library.add(make_recipe(seed=2, fingerprint=FINGERPRINT_A, name="Abstract"), make_image())
    records = {m.fingerprint: m for m in library.models()}
    assert set(records) == {FINGERPRINT_A, FINGERPRINT_B}
    a, b = records[FINGERPRINT_A], records[FINGERPRINT_B]
    assert (a.name, a.last_path, a.image_count) == ("Abstract", "/models/a.safetensors", 2)  # path kept
    assert (b.name, b.last_path, b.image_count) == ("Faces", "/models/faces.pkl", 0)
    assert a.first_seen <= a.last_seen
    first_seen = b.first_seen
    library.remember_model(FINGERPRINT_B, "Faces v2", "/new/faces.safetensors")
    b2 = library.model(FINGERPRINT_B)
    assert b2 is not None
    assert (b2.name, b2.last_path, b2.first_seen) == ("Faces v2", "/new/faces.safetensors", first_seen)
    assert b2.last_seen > b.last_seen
    library.remember_model(FINGERPRINT_B)  # no name / path: keep them
    assert library.model(FINGERPRINT_B).name == "Faces v2"  # type: ignore[union-attr]
    assert library.models()[0].fingerprint == FINGERPRINT_B  # most recently seen first
    assert library.model("ff" * 32) is None
    with pytest.raises(ValueError):
        library.remember_model("")


# ---------------------------------------------------------------------------------------------
# Collections
# ---------------------------------------------------------------------------------------------


def test_collections(filled):
    library, ids = filled
    best = library.create_collection("Best of")
    prints = library.create_collection("prints")
    with pytest.raises(LibraryError, match="already exists"):
        library.create_collection("best OF")
    with pytest.raises(ValueError):
        library.create_collection("   ")
    library.add_to_collection(best, [ids[3], ids[0]])
    library.add_to_collection(best, [ids[0], ids[5]])  # ids[0] stays where it was
    assert [i.id for i in library.collection_items(best)] == [ids[3], ids[0], ids[5]]
    library.add_to_collection(prints, ids[1])
    assert [(c.name, c.size) for c in library.collections()] == [("Best of", 3), ("prints", 1)]
    library.remove_from_collection(best, ids[0])
    assert [i.id for i in library.collection_items(best)] == [ids[3], ids[5]]
    library.delete_collection(prints)
    assert [c.name for c in library.collections()] == ["Best of"]
    assert ids[1] in library  # images stay
    with pytest.raises(LibraryError, match="no collection"):
        library.collection_items(prints)
    with pytest.raises(LibraryError, match="no collection"):
        library.add_to_collection(9999, ids[0])


# ---------------------------------------------------------------------------------------------
# Observers
# ---------------------------------------------------------------------------------------------


def test_subscribe_events(library):
    events: list[tuple[str, list]] = []
    unsubscribe = library.subscribe(lambda event, ids: events.append((event, ids)))

    def broken(event, ids):
        raise RuntimeError("observer bug")

    library.subscribe(broken)  # must not break writes nor other observers
    a = library.add(make_recipe(seed=1), make_image())
    b = library.star(make_recipe(seed=2), make_image())
    library.star(make_recipe(seed=2), make_image())  # existing: no write, no event
    library.set_stars([a, b], 4)
    library.set_note(a, "n")
    library.add_tags(b, "t")
    library.remove_tags(b, "t")
    cid = library.create_collection("c")
    library.add_to_collection(cid, [a])
    library.remember_model(FINGERPRINT_B, "x")
    library.delete([a, 999])
    with pytest.raises(ValueError):
        library.set_stars(a, 10)  # failed writes send nothing
    assert events == [
        ("added", [a]),
        ("added", [b]),
        ("changed", [a, b]),
        ("changed", [a]),
        ("changed", [b]),
        ("changed", [b]),
        ("collections", [cid]),
        ("collections", [cid]),
        ("models", [FINGERPRINT_B]),
        ("deleted", [a]),
    ]
    # the observer sees the committed state
    seen = []
    library.subscribe(lambda event, ids: seen.append(library.get(ids[0]).stars))
    library.set_stars(b, 1)
    assert seen == [1]
    unsubscribe()
    library.set_stars(b, 2)
    assert events[-1] == ("changed", [b]) and len(events) == 11


# ---------------------------------------------------------------------------------------------
# Persistence
# ---------------------------------------------------------------------------------------------


def test_reopen_keeps_everything(tmp_path):
    path = tmp_path / "lib.sqlite3"
    recipe = make_recipe(seed=5, fingerprint=FINGERPRINT_B, name="Faces")
    with Library(path) as lib:
        image_id = lib.add(recipe, make_image((300, 300)), stars=2, tags=["a", "b"], note="n", source="mix")
        other = lib.add(make_recipe(seed=6), make_image())
        cid = lib.create_collection("keep")
        lib.add_to_collection(cid, [other, image_id])
        lib.remember_model(FINGERPRINT_A, "Abstract", "/a.pkl")
        before = lib.get(image_id)
        models_before = lib.models()
    with Library(path) as lib:
        assert lib.get(image_id) == before
        assert lib.get(image_id).recipe == recipe
        assert [i.id for i in lib.collection_items(cid)] == [other, image_id]
        assert lib.models() == models_before
        assert lib.find_by_recipe(recipe) == image_id
        assert lib.integrity_check() == "ok"
