"""Crash safety: a writer killed with SIGKILL loses nothing it committed; a damaged file is
moved aside, never deleted."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image

from studio.core.errors import StudioError
from studio.gan.recipe import Recipe
from studio.library import Library, LibraryDamagedError, LibraryError
from tests.library.helpers import make_image, make_recipe

ROOT = Path(__file__).resolve().parents[2]

# The child adds images as fast as it can and prints each id once add() has returned
# (that is, once the transaction is committed).
_WRITER = textwrap.dedent(
    """
    import sys
    from PIL import Image
    from studio.gan.recipe import ModelRef, Recipe
    from studio.library import Library

    library = Library(sys.argv[1])
    picture = Image.effect_noise((300, 200), 64).convert("RGB")
    print("ready", flush=True)
    for seed in range(1_000_000):
        recipe = Recipe(model=ModelRef(fingerprint="ab" * 32, name="m"), seed=seed)
        image_id = library.add(recipe, picture, tags=["t%d" % (seed % 7)], note="n%d" % seed)
        print(image_id, seed, flush=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_mid_write_loses_nothing_committed(tmp_path):
    path = tmp_path / "lib.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    committed: dict[int, int] = {}
    try:
        assert child.stdout is not None
        first = child.stdout.readline()
        assert first.strip() == "ready", child.stderr.read() if child.stderr else first
        deadline = time.monotonic() + 30
        while len(committed) < 25 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            image_id, seed = map(int, line.split())
            committed[image_id] = seed
        assert len(committed) >= 25, "the writer did not report enough commits"
        os.kill(child.pid, signal.SIGKILL)  # mid-way through its next writes
        rest, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    for line in rest.splitlines():  # lines printed before the kill are committed too
        image_id, seed = map(int, line.split())
        committed[image_id] = seed

    with Library(path) as lib:
        assert lib.integrity_check() == "ok"
        assert len(lib) >= len(committed)
        for image_id, seed in committed.items():
            item = lib.get(image_id)
            assert item.recipe is not None and item.recipe.seed == seed
            assert Recipe.from_json(item.recipe_json).seed == seed
            assert item.note == f"n{seed}" and item.tags == [f"t{seed % 7}"]
            with Image.open(io.BytesIO(item.thumbnail_png)) as thumb:
                thumb.load()
                assert thumb.size == (256, 171)
        # the library keeps working after the crash
        new_id = lib.add(make_recipe(seed=123456), make_image())
        assert new_id > max(committed)


@pytest.mark.parametrize(
    "garbage",
    [
        b"this is not a database\n" * 50,
        bytes(range(256)) * 16,
        b"SQLite format 3\x00" + bytes(range(256)) * 16,  # right magic, garbage after: SQLite finds it
    ],
    ids=["text", "binary", "sqlite-magic"],
)
def test_damaged_file_is_moved_aside_and_a_fresh_library_started(garbage):
    from studio.core.paths import library_db_path

    path = library_db_path()
    path.write_bytes(garbage)
    path.with_name(path.name + "-wal").write_bytes(b"junk wal")
    with pytest.raises(LibraryDamagedError) as info:
        Library()
    error = info.value
    assert isinstance(error, LibraryError) and isinstance(error, StudioError)
    message = str(error)
    assert "damaged" in message and str(error.backup) in message and "nothing was deleted" in message
    backup = error.backup
    assert backup.parent == path.parent and backup.name.startswith("library.sqlite3.damaged-")
    assert backup.read_bytes() == garbage  # kept byte for byte
    assert backup.with_name(backup.name + "-wal").read_bytes() == b"junk wal"
    # a fresh library now sits at the original path
    with Library() as lib:
        assert len(lib) == 0 and lib.integrity_check() == "ok"
        lib.add(make_recipe(), make_image())


def test_open_or_recover(tmp_path):
    path = tmp_path / "lib.sqlite3"
    path.write_bytes(b"\x00garbage" * 100)
    lib, problem = Library.open_or_recover(path)
    with lib:
        assert isinstance(problem, LibraryDamagedError) and problem.backup.is_file()
        assert len(lib) == 0
    # a second damaged file next to the first gets its own backup name
    path.unlink()
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    path.write_bytes(b"\x01more garbage" * 100)
    lib2, problem2 = Library.open_or_recover(path)
    lib2.close()
    assert problem2 is not None and problem2.backup != problem.backup and problem.backup.is_file()
    lib3, problem3 = Library.open_or_recover(path)
    lib3.close()
    assert problem3 is None
    assert len(list(tmp_path.glob("lib.sqlite3.damaged-*"))) == 2


def test_a_file_damaged_in_its_middle_is_found_at_open(tmp_path):
    """Without a check at open, every later query would fail with 'malformed'."""
    path = tmp_path / "lib.sqlite3"
    with Library(path) as lib:
        for seed in range(40):
            lib.add(make_recipe(seed=seed), make_image(colour=(seed, 2 * seed, 90)), note=f"note {seed}")
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    middle = len(data) // page // 2 * page
    data[middle:middle + 2 * page] = bytes(range(256)) * (2 * page // 256)
    path.write_bytes(bytes(data))
    lib, problem = Library.open_or_recover(path)
    with lib:
        assert isinstance(problem, LibraryDamagedError) and problem.backup.read_bytes() == bytes(data)
        assert len(lib) == 0 and lib.query(text="note") == []


def test_a_database_without_the_studio_tables_gets_a_sentence(tmp_path):
    """Right version number, wrong tables (another program's file, a hand edit): moved aside
    with the reason, instead of "no such column" on every query."""
    import sqlite3

    path = tmp_path / "lib.sqlite3"
    with Library(path):
        pass
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE images DROP COLUMN note")
    db.close()
    lib, problem = Library.open_or_recover(path)
    with lib:
        assert isinstance(problem, LibraryDamagedError)
        assert "(it lacks the column 'images.note' that the studio's library has)" in str(problem)
        lib.add(make_recipe(), make_image(), note="works again")
        assert lib.query(text="works")
