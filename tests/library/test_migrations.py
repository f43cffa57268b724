"""Schema versions: migrations run in order, in one transaction; newer files are refused."""

from __future__ import annotations

import sqlite3

import pytest

from studio.library import SCHEMA_VERSION, Library, LibraryError
from studio.library.store import MIGRATIONS
from tests.library.helpers import make_image, make_recipe


def _add_rating_source(connection: sqlite3.Connection) -> None:
    """A fake version 2: a new column with a default, filled for existing rows."""
    connection.execute("ALTER TABLE images ADD COLUMN rating_source TEXT NOT NULL DEFAULT ''")
    connection.execute("UPDATE images SET rating_source = 'artist'")


class V2Library(Library):
    """The library as a future studio with schema version 2 would open it."""

    MIGRATIONS = (*Library.MIGRATIONS, _add_rating_source)


def _user_version(path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


def test_current_version():
    assert SCHEMA_VERSION == len(MIGRATIONS) == 1
    with Library() as lib:
        assert lib.schema_version == 1


def test_fake_v2_migration_upgrades_existing_library(tmp_path):
    path = tmp_path / "lib.sqlite3"
    with Library(path) as lib:
        image_id = lib.add(make_recipe(), make_image(), tags=["x"], note="kept")
    assert _user_version(path) == 1
    with V2Library(path) as lib:
        assert lib.schema_version == 2
        assert lib.get(image_id).note == "kept" and lib.get(image_id).tags == ["x"]
        row = lib._db.execute("SELECT rating_source FROM images WHERE id = ?", (image_id,)).fetchone()
        assert row == ("artist",)
        lib.add(make_recipe(seed=4), make_image())  # the v1 API still works on v2
    with V2Library(path) as lib:  # reopening runs nothing again
        assert lib.schema_version == 2 and len(lib) == 2
    # a v1 studio refuses a v2 file with a clear message, and leaves it alone
    with pytest.raises(LibraryError, match="newer version of the studio"):
        Library(path)
    assert _user_version(path) == 2


def test_migrations_run_in_order_on_a_new_file(tmp_path):
    calls: list[int] = []

    def record(version: int):
        def migration(connection: sqlite3.Connection) -> None:
            calls.append(version)
            assert connection.in_transaction
            assert connection.execute("PRAGMA user_version").fetchone()[0] == 0  # bumped at the end

        return migration

    class V3Library(Library):
        MIGRATIONS = (*Library.MIGRATIONS, record(1), record(2))

    with V3Library(tmp_path / "new.sqlite3") as lib:
        assert lib.schema_version == 3
    assert calls == [1, 2]


def test_failed_migration_leaves_the_library_unchanged(tmp_path):
    path = tmp_path / "lib.sqlite3"
    with Library(path) as lib:
        image_id = lib.add(make_recipe(), make_image())

    def half_done(connection: sqlite3.Connection) -> None:
        connection.execute("CREATE TABLE half (x)")
        connection.execute("UPDATE images SET note = 'changed'")
        raise RuntimeError("bug in migration")

    class Broken(Library):
        MIGRATIONS = (*Library.MIGRATIONS, half_done)

    with pytest.raises(LibraryError, match="could not upgrade .* left unchanged: bug in migration"):
        Broken(path)
    assert _user_version(path) == 1
    with Library(path) as lib:
        assert lib.get(image_id).note == ""
        tables = {r[0] for r in lib._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "half" not in tables
        assert lib.integrity_check() == "ok"
