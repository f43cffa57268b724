"""The library: a SQLite store of the artist's favourite images and their recipes.

One database file (``library_db_path()`` in the user data folder) holds:

* ``images`` - one row per starred image: its recipe JSON, a PNG thumbnail (at most
  :data:`THUMBNAIL_SIZE` px on the long side), the model's fingerprint and name, 0-5 stars,
  a note, when it was added, the full image size and which panel it came from;
* ``tags`` - free-form tags, one row per (image, tag) pair, compared case-insensitively;
* ``models`` - every model seen (fingerprint, name, last known path, first / last seen);
* ``collections`` / ``collection_items`` - named, ordered selections of images.

Durability
    The database runs in WAL journal mode with ``synchronous=FULL``. In WAL mode ``NORMAL``
    already survives the *application* crashing (committed pages are in the WAL file, in the
    OS cache), but a power cut or an OS crash could take back the last few commits. ``FULL``
    fsyncs the WAL on every commit, so once a write method returns, the change survives a
    power cut as well. The price is one fsync per write; library writes are human-paced
    (a click on a star), so that costs nothing the artist can notice. Every write method runs
    in exactly one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``): it happens completely or
    not at all.

Schema versions
    The schema version lives in ``PRAGMA user_version``. :data:`MIGRATIONS` is a list of
    functions; function ``i`` upgrades a database from version ``i`` to ``i + 1``. Opening a
    library applies the missing ones in order inside a single transaction, together with the
    version bump, so an upgrade either completes or leaves the old database untouched. To
    change the schema, append a function (never edit a released one). Migration functions
    must use ``connection.execute`` only (``executescript`` would commit halfway).

Damaged files
    If the file is not a SQLite database (or SQLite reports it as corrupt) when opened, it is
    renamed to ``<name>.damaged-<timestamp>`` (with its ``-wal`` / ``-shm`` companions),
    a fresh empty library is created in its place, and :class:`LibraryError` is raised with a
    message saying where the old file went. Nothing is deleted. Opening again (or using
    :meth:`Library.open_or_recover`) gives the fresh library.

Threads
    A :class:`Library` keeps one ``sqlite3`` connection opened with the default
    ``check_same_thread=True``: use each instance from the thread that created it (in the
    GUI, the UI thread); calling it from another thread raises ``sqlite3.ProgrammingError``
    instead of corrupting anything. Another thread or process that needs the library opens
    its own :class:`Library` on the same file: WAL lets readers run beside one writer, and a
    writer waits up to :data:`BUSY_TIMEOUT_S` seconds for another writer to finish.

Observers
    :meth:`Library.subscribe` registers a plain callable ``callback(event, ids)`` that runs
    after each committed write (see :data:`EVENTS`). It is plain Python, with no Qt; the
    library panel uses it to refresh.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from PIL import Image, UnidentifiedImageError

from studio.core.errors import StudioError
from studio.core.paths import library_db_path
from studio.gan.recipe import Recipe

__all__ = [
    "THUMBNAIL_SIZE",
    "MAX_STARS",
    "ORDERS",
    "EVENTS",
    "BUSY_TIMEOUT_S",
    "MAX_SEARCH_WORDS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "LibraryError",
    "LibraryDamagedError",
    "ImageNotFoundError",
    "LibraryImage",
    "ModelRecord",
    "CollectionRecord",
    "Library",
    "recipe_key",
]

log = logging.getLogger(__name__)

#: Longest side of a stored thumbnail, in pixels.
THUMBNAIL_SIZE = 256

#: Highest star rating (ratings are whole numbers from 0 to this).
MAX_STARS = 5

#: Accepted values of the ``order`` argument of :meth:`Library.query`.
ORDERS = ("newest", "oldest", "stars")

#: Event names passed to subscribers: ``added`` / ``changed`` / ``deleted`` carry image ids;
#: ``collections`` carries collection ids (created, filled, emptied or removed); ``models``
#: carries model fingerprints (a model remembered without adding an image).
EVENTS = ("added", "changed", "deleted", "collections", "models")

#: How long a write waits for another connection's write to finish before giving up.
BUSY_TIMEOUT_S = 10.0

#: Recipe fields that do not change the image and are left out of :func:`recipe_key`.
_KEY_IGNORED_FIELDS = ("created", "studio_version")

#: SQLite result codes that mean "this file is not a usable database".
_SQLITE_NOTADB = 26
_SQLITE_CORRUPT = 11

#: Words one search may combine (each adds a clause; SQLite bounds a query's depth).
MAX_SEARCH_WORDS = 64

#: Most ids placed in one ``IN (...)`` list (below SQLite's bound-variable limit).
_CHUNK = 500

Subscriber = Callable[[str, "list[Any]"], None]
Migration = Callable[[sqlite3.Connection], None]


# ---------------------------------------------------------------------------------------------
# Errors and records
# ---------------------------------------------------------------------------------------------


class LibraryError(StudioError):
    """The library cannot do what was asked; the message is meant for the user."""


class LibraryDamagedError(LibraryError):
    """The library file was damaged; it was moved to :attr:`backup` and a fresh, empty
    library was created in its place."""

    def __init__(self, message: str, backup: Path) -> None:
        super().__init__(message)
        #: Where the damaged file now is.
        self.backup = backup


class ImageNotFoundError(LibraryError, KeyError):
    """An image id that is not (or no longer) in the library."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass
class LibraryImage:
    """One image of the library, as plain data.

    ``recipe`` is None only when the stored JSON cannot be read by this version of the studio
    (e.g. written by a newer one); ``recipe_json`` always holds the stored text. ``width`` and
    ``height`` are the full image's size (None when unknown), not the thumbnail's.
    """

    id: int
    recipe: Recipe | None
    thumbnail_png: bytes
    model_fingerprint: str
    model_name: str
    stars: int
    note: str
    tags: list[str]
    created: str
    width: int | None
    height: int | None
    source: str
    recipe_json: str = ""

    def thumbnail(self) -> Image.Image:
        """The thumbnail decoded as a PIL image (fully loaded)."""
        with Image.open(io.BytesIO(self.thumbnail_png)) as picture:
            picture.load()
            return picture.copy()


@dataclass
class ModelRecord:
    """A model the library has seen, with how many library images it made."""

    fingerprint: str
    name: str
    last_path: str | None
    first_seen: str
    last_seen: str
    image_count: int = 0


@dataclass
class CollectionRecord:
    """A named collection and how many images it holds."""

    id: int
    name: str
    created: str
    size: int = 0


# ---------------------------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------------------------

_SCHEMA_V1 = (
    """
    CREATE TABLE models (
        fingerprint TEXT PRIMARY KEY,
        name        TEXT NOT NULL DEFAULT '',
        last_path   TEXT,
        first_seen  TEXT NOT NULL,
        last_seen   TEXT NOT NULL
    )
    """,
    # AUTOINCREMENT: an id is never reused, so a stale id held by a panel can never point
    # at a different image later.
    """
    CREATE TABLE images (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        recipe_json       TEXT NOT NULL,
        recipe_key        TEXT NOT NULL,
        thumbnail_png     BLOB NOT NULL,
        model_fingerprint TEXT NOT NULL REFERENCES models(fingerprint),
        model_name        TEXT NOT NULL DEFAULT '',
        stars             INTEGER NOT NULL DEFAULT 1 CHECK (stars BETWEEN 0 AND 5),
        note              TEXT NOT NULL DEFAULT '',
        created           TEXT NOT NULL,
        width             INTEGER,
        height            INTEGER,
        source            TEXT NOT NULL DEFAULT ''
    )
    """,
    "CREATE INDEX images_by_model ON images (model_fingerprint, recipe_key)",
    "CREATE INDEX images_by_created ON images (created)",
    "CREATE INDEX images_by_stars ON images (stars)",
    """
    CREATE TABLE tags (
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        tag      TEXT NOT NULL COLLATE NOCASE,
        PRIMARY KEY (image_id, tag)
    )
    """,
    "CREATE INDEX tags_by_tag ON tags (tag)",
    """
    CREATE TABLE collections (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        name    TEXT NOT NULL UNIQUE COLLATE NOCASE,
        created TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE collection_items (
        collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        image_id      INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        position      INTEGER NOT NULL,
        PRIMARY KEY (collection_id, image_id)
    )
    """,
    "CREATE INDEX collection_items_by_image ON collection_items (image_id)",
)


def _migrate_to_v1(connection: sqlite3.Connection) -> None:
    """Version 0 (empty file) -> 1: create every table."""
    for statement in _SCHEMA_V1:
        connection.execute(statement)


#: Schema migrations: ``MIGRATIONS[i]`` upgrades version ``i`` to ``i + 1``. Append only.
MIGRATIONS: tuple[Migration, ...] = (_migrate_to_v1,)

#: The schema version this studio writes.
SCHEMA_VERSION = len(MIGRATIONS)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _now() -> str:
    """The current UTC time as ISO 8601 with milliseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def recipe_key(recipe: Recipe) -> str:
    """A digest naming the image a recipe makes: same key, same picture.

    It covers the model fingerprint, the latent and every setting, and leaves out what does
    not change the pixels: the ``created`` time, the studio version, and the model's display
    name and path (the fingerprint identifies the model).
    """
    data = recipe.to_dict()
    for name in _KEY_IGNORED_FIELDS:
        data.pop(name, None)
    data["model"] = {"fingerprint": recipe.model.fingerprint}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class _Damaged(Exception):
    """Internal: the file turned out damaged while opening; it was moved to ``backup``."""

    def __init__(self, backup: Path) -> None:
        super().__init__(str(backup))
        self.backup = backup


_SQLITE_MAGIC = b"SQLite format 3\x00"


def _has_foreign_header(path: Path) -> bool:
    """True when ``path`` is a non-empty file that does not start like a SQLite database."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(len(_SQLITE_MAGIC))
    except OSError:  # missing (a new library) or unreadable (SQLite will say why)
        return False
    return len(head) > 0 and head != _SQLITE_MAGIC


class _SchemaMismatch(sqlite3.DatabaseError):
    """Internal: the file is a database at the right version without the studio's tables."""


@functools.lru_cache(maxsize=8)
def _expected_columns(migrations: tuple[Migration, ...]) -> dict[str, frozenset[str]]:
    """Each table's columns after ``migrations``, read from a scratch database in memory."""
    scratch = sqlite3.connect(":memory:", isolation_level=None)
    try:
        scratch.execute("BEGIN")   # as when a real file is migrated
        for migration in migrations:
            migration(scratch)
        scratch.execute("COMMIT")
        return _columns(scratch)
    finally:
        scratch.close()


def _columns(connection: sqlite3.Connection) -> dict[str, frozenset[str]]:
    tables = [row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    return {t: frozenset(row[1] for row in connection.execute(f'PRAGMA table_info("{t}")')) for t in tables}


def _is_damage(exc: sqlite3.Error) -> bool:
    """True when SQLite says the file is not a database or is corrupt (or lacks our tables)."""
    if isinstance(exc, _SchemaMismatch):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (_SQLITE_NOTADB, _SQLITE_CORRUPT)
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text


def _normalise_thumbnail(
    thumbnail: Image.Image | bytes | bytearray | memoryview,
) -> tuple[bytes, tuple[int, int]]:
    """Return (PNG bytes at most THUMBNAIL_SIZE px on the long side, size of the input)."""
    if isinstance(thumbnail, (bytes, bytearray, memoryview)):
        try:
            with Image.open(io.BytesIO(bytes(thumbnail))) as opened:
                opened.load()
                picture = opened.copy()
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise ValueError(f"the thumbnail bytes are not a readable image: {exc}") from None
    elif isinstance(thumbnail, Image.Image):
        picture = thumbnail.copy()
    else:
        raise ValueError(f"a thumbnail must be a PIL image or image bytes, got {type(thumbnail).__name__}")
    original = picture.size
    if picture.width < 1 or picture.height < 1:
        raise ValueError(f"the thumbnail is empty ({picture.width}x{picture.height})")
    if picture.mode not in ("1", "L", "LA", "RGB", "RGBA"):
        has_alpha = "A" in picture.getbands() or "transparency" in picture.info
        picture = picture.convert("RGBA" if has_alpha else "RGB")
    if max(picture.size) > THUMBNAIL_SIZE:
        picture.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=False)
    return out.getvalue(), original


def _check_stars(stars: Any) -> int:
    """Return ``stars`` when it is a whole number from 0 to MAX_STARS."""
    if isinstance(stars, bool) or not isinstance(stars, int):
        raise ValueError(f"stars must be a whole number from 0 to {MAX_STARS}, got {stars!r}")
    if not 0 <= stars <= MAX_STARS:
        raise ValueError(f"stars must be from 0 to {MAX_STARS}, got {stars}")
    return stars


def _check_text(name: str, value: Any) -> str:
    """Return ``value`` when it is a string."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, got {value!r}")
    return value


def _clean_tags(tags: str | Iterable[str]) -> list[str]:
    """Normalise tags: one string is one tag; whitespace trimmed and collapsed; no empties;
    duplicates (ignoring case) dropped, first spelling kept."""
    if isinstance(tags, str):
        tags = [tags]
    cleaned: list[str] = []
    seen: set[str] = set()
    for tag in tags:
        text = " ".join(_check_text("a tag", tag).split())
        if not text:
            raise ValueError("a tag must not be empty")
        if text.casefold() not in seen:
            seen.add(text.casefold())
            cleaned.append(text)
    return cleaned


def _check_id(value: Any) -> int:
    """Return ``value`` when it is an int id."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"an image id must be a whole number, got {value!r}")
    return value


def _ids(ids: int | Iterable[int]) -> list[int]:
    """One id or many, as a list without duplicates (order kept)."""
    if isinstance(ids, int) and not isinstance(ids, bool):
        return [ids]
    return list(dict.fromkeys(_check_id(i) for i in ids))


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    """Split ``items`` into slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere (``%``, ``_`` and ``\\`` escaped)."""
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


def _parse_recipe(text: str) -> Recipe | None:
    """Parse stored recipe JSON; None when this studio cannot read it."""
    try:
        return Recipe.from_json(text)
    except ValueError as exc:
        log.warning("library: a stored recipe cannot be read: %s", exc)
        return None


# ---------------------------------------------------------------------------------------------
# The library
# ---------------------------------------------------------------------------------------------


_IMAGE_COLUMNS = (
    "id, recipe_json, thumbnail_png, model_fingerprint, model_name, stars, note, created, "
    "width, height, source"
)


class Library:
    """The store of favourites. ``Library()`` opens (or creates) the user's library file.

    Use it as a context manager or call :meth:`close`. See the module docstring for
    durability, schema versions, damaged files, threads and observers.
    """

    #: Migrations this class applies; a subclass may extend it (tests do).
    MIGRATIONS: tuple[Migration, ...] = MIGRATIONS

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        """Open the library at ``path`` (default: :func:`studio.core.paths.library_db_path`).

        Raises :class:`LibraryDamagedError` when the file was damaged (after moving it aside
        and creating a fresh library: opening again works), and :class:`LibraryError` when it
        was written by a newer studio, a schema upgrade failed, or it cannot be opened.
        """
        self.path = Path(path) if path is not None else library_db_path()
        self._subscribers: list[Subscriber] = []
        self._connection: sqlite3.Connection | None = None
        if _has_foreign_header(self.path):
            # Caught before SQLite touches anything: SQLite would delete the -wal / -shm
            # companions of a file it cannot read when closing it.
            self._recover(self._move_damaged_aside(), None)
        try:
            self._connection = self._open()
        except _Damaged as damaged:
            self._recover(damaged.backup, damaged.__cause__)
        except sqlite3.Error as exc:
            raise LibraryError(f"cannot open the library {self.path}: {exc}") from exc

    def _recover(self, backup: Path, cause: BaseException | None) -> None:
        """Create a fresh library in place of the damaged one (moved to ``backup``) and raise
        :class:`LibraryDamagedError` saying so."""
        try:
            self._open().close()
        except (sqlite3.Error, _Damaged) as again:
            raise LibraryError(
                f"the library file {self.path} was damaged and has been moved to {backup}; "
                f"a fresh library could not be created: {again}"
            ) from again
        how = f" ({cause})" if isinstance(cause, _SchemaMismatch) else ""
        raise LibraryDamagedError(
            f"the library file {self.path} was damaged and could not be read{how}. It has been "
            f"moved to {backup} (nothing was deleted) and a new, empty library was started.",
            backup,
        ) from cause

    @classmethod
    def open_or_recover(
        cls, path: str | os.PathLike[str] | None = None
    ) -> tuple[Library, LibraryDamagedError | None]:
        """Open the library; if the file was damaged, open the fresh one that replaced it.

        Returns ``(library, problem)`` where ``problem`` is the :class:`LibraryDamagedError`
        to show the user (the damaged file was moved aside) or None. Other errors are raised.
        """
        try:
            return cls(path), None
        except LibraryDamagedError as problem:
            return cls(path), problem

    # -- opening -----------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        """Connect, set the pragmas and bring the schema up to date."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None  # we issue BEGIN/COMMIT
        )
        try:
            # Reading the schema first makes a non-database file fail here with SQLITE_NOTADB.
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            # A file damaged in its middle opens fine and fails query after query; find out now.
            verdict = connection.execute("PRAGMA quick_check(1)").fetchone()[0]
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"database disk image is malformed ({verdict})")
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("library: journal mode is %s, not WAL", mode)
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA foreign_keys=ON")
            self._migrate(connection)
            self._check_tables(connection)
        except sqlite3.Error as exc:
            if not _is_damage(exc):
                connection.close()
                raise
            # Move the files aside while the connection is still open, so that closing it
            # cannot remove the companions (Windows refuses: then close first).
            try:
                backup = self._move_damaged_aside(may_retry=True)
            except PermissionError:
                connection.close()
                backup = self._move_damaged_aside()
            except BaseException:
                connection.close()
                raise
            else:
                connection.close()
            raise _Damaged(backup) from exc
        except BaseException:
            connection.close()
            raise
        return connection

    def _migrate(self, connection: sqlite3.Connection) -> None:
        """Apply the missing migrations in order, in one transaction with the version bump."""
        migrations = type(self).MIGRATIONS
        current = connection.execute("PRAGMA user_version").fetchone()[0]
        if current > len(migrations):
            raise LibraryError(
                f"the library {self.path} was written by a newer version of the studio "
                f"(schema {current}; this studio knows up to {len(migrations)}); update the studio"
            )
        if current == len(migrations):
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            current = connection.execute("PRAGMA user_version").fetchone()[0]
            for version in range(current, len(migrations)):
                migrations[version](connection)
            connection.execute(f"PRAGMA user_version = {int(len(migrations))}")
            connection.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            if isinstance(exc, Exception) and not isinstance(exc, (sqlite3.Error, LibraryError)):
                raise LibraryError(
                    f"could not upgrade the library {self.path} to schema version "
                    f"{len(migrations)}; it was left unchanged: {exc}"
                ) from exc
            raise

    def _check_tables(self, connection: sqlite3.Connection) -> None:
        """A file at this schema version must hold every table and column the studio uses;
        otherwise each query would fail with SQLite's own words ("no such column")."""
        have = _columns(connection)
        for table, columns in _expected_columns(MIGRATIONS).items():   # the studio's own tables
            missing = sorted(columns - have.get(table, frozenset()))
            if missing:
                what = f"the table '{table}'" if table not in have else f"the column '{table}.{missing[0]}'"
                raise _SchemaMismatch(f"it lacks {what} that the studio's library has")

    def _move_damaged_aside(self, *, may_retry: bool = False) -> Path:
        """Rename the damaged file (and its -wal / -shm companions); return the new path.

        Raises :class:`LibraryError` when that fails, or ``PermissionError`` as it is when
        ``may_retry`` (the caller still holds the file open and will close it and retry).
        """
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        backup = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        counter = 1
        while backup.exists():
            counter += 1
            backup = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{counter}")
        try:
            os.replace(self.path, backup)
            for suffix in ("-wal", "-shm"):
                companion = self.path.with_name(self.path.name + suffix)
                if companion.exists():
                    os.replace(companion, backup.with_name(backup.name + suffix))
        except OSError as exc:
            if may_retry and isinstance(exc, PermissionError):
                raise  # Windows, file still open: the caller closes it and tries again
            raise LibraryError(
                f"the library file {self.path} is damaged, and it could not be moved aside "
                f"to {backup}: {exc}. Move or rename it yourself, then start the studio again."
            ) from exc
        log.warning("library: damaged file %s moved to %s", self.path, backup)
        return backup

    # -- lifetime ----------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        """The schema version of the open database."""
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._connection is None

    def close(self) -> None:
        """Close the database (safe to call twice). Subscribers are dropped."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._subscribers.clear()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Library {self.path} ({state})>"

    @property
    def _db(self) -> sqlite3.Connection:
        """The connection, or a clear error once closed."""
        if self._connection is None:
            raise LibraryError("the library is closed")
        return self._connection

    # -- observers ---------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event, ids)`` after every committed write; returns an unsubscribe
        function. Events are listed in :data:`EVENTS`. An exception raised by a callback is
        logged and does not affect the write (already committed) or other callbacks."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def _notify(self, event: str, ids: Sequence[Any]) -> None:
        """Tell subscribers about a committed write (nothing when ``ids`` is empty)."""
        if not ids:
            return
        for callback in list(self._subscribers):
            try:
                callback(event, list(ids))
            except Exception:  # a broken observer must not break the library
                log.exception("library: a subscriber failed on %r", event)

    # -- transactions ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: commit on success, roll back on any exception."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise LibraryError(f"cannot write to the library {self.path}: {exc}") from exc
        try:
            yield db
            db.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise LibraryError(f"cannot write to the library {self.path}: {exc}") from exc
            raise

    def _require_images(self, db: sqlite3.Connection, ids: Sequence[int]) -> None:
        """Raise :class:`ImageNotFoundError` unless every id is in the library."""
        found: set[int] = set()
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in db.execute(f"SELECT id FROM images WHERE id IN ({marks})", chunk))
        missing = [i for i in ids if i not in found]
        if missing:
            listed = ", ".join(str(i) for i in missing[:10])
            raise ImageNotFoundError(f"no image with id {listed} in the library")

    @staticmethod
    def _upsert_model(db: sqlite3.Connection, fingerprint: str, name: str, path: str | None) -> None:
        """Insert or refresh a models row (the name and path are only updated when given)."""
        now = _now()
        db.execute(
            """
            INSERT INTO models (fingerprint, name, last_path, first_seen, last_seen)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (fingerprint) DO UPDATE SET
                name = CASE WHEN excluded.name != '' THEN excluded.name ELSE models.name END,
                last_path = COALESCE(excluded.last_path, models.last_path),
                last_seen = excluded.last_seen
            """,
            (fingerprint, name, path, now, now),
        )

    # -- adding ------------------------------------------------------------------------------

    def add(
        self,
        recipe: Recipe,
        thumbnail: Image.Image | bytes,
        *,
        stars: int = 1,
        tags: str | Iterable[str] = (),
        note: str = "",
        source: str = "",
        size: tuple[int, int] | None = None,
    ) -> int:
        """Add an image and return its id (always a new row; see :meth:`star` to dedupe).

        ``thumbnail`` is a PIL image or encoded image bytes; it is stored as PNG, downscaled
        to at most :data:`THUMBNAIL_SIZE` px on the long side. ``size`` is the full image's
        (width, height); by default the size of the given thumbnail. ``source`` names the
        panel it came from ('explore', 'mix', 'evolve', ...). The model is remembered too.
        """
        if not isinstance(recipe, Recipe):
            raise ValueError(f"add() needs a Recipe, got {type(recipe).__name__}")
        stars = _check_stars(stars)
        tag_list = _clean_tags(tags)
        note = _check_text("a note", note)
        source = _check_text("the source", source)
        png, original = _normalise_thumbnail(thumbnail)
        width, height = original if size is None else self._check_size(size)
        recipe_json = recipe.to_json()
        key = recipe_key(recipe)
        model = recipe.model
        with self._write() as db:
            self._upsert_model(db, model.fingerprint, model.name, model.path)
            cursor = db.execute(
                """
                INSERT INTO images (recipe_json, recipe_key, thumbnail_png, model_fingerprint,
                                    model_name, stars, note, created, width, height, source)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (recipe_json, key, png, model.fingerprint, model.name, stars, note, _now(),
                 width, height, source),
            )
            image_id = int(cursor.lastrowid)
            db.executemany(
                "INSERT OR IGNORE INTO tags (image_id, tag) VALUES (?, ?)",
                [(image_id, tag) for tag in tag_list],
            )
        self._notify("added", [image_id])
        return image_id

    @staticmethod
    def _check_size(size: Any) -> tuple[int, int]:
        """Return ``size`` as (width, height) of positive ints."""
        try:
            width, height = size
        except (TypeError, ValueError):
            raise ValueError(f"size must be (width, height), got {size!r}") from None
        for value in (width, height):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"size must be two positive whole numbers, got {size!r}")
        return int(width), int(height)

    def find_by_recipe(self, recipe: Recipe) -> int | None:
        """The id of an image made by the same model with the same latent and settings (the
        oldest such image), or None. Creation times and display names are ignored."""
        row = self._db.execute(
            "SELECT id FROM images WHERE model_fingerprint = ? AND recipe_key = ? ORDER BY id LIMIT 1",
            (recipe.model.fingerprint, recipe_key(recipe)),
        ).fetchone()
        return None if row is None else int(row[0])

    def star(
        self,
        recipe: Recipe,
        thumbnail: Image.Image | bytes,
        *,
        stars: int = 1,
        tags: str | Iterable[str] = (),
        note: str = "",
        source: str = "",
        size: tuple[int, int] | None = None,
    ) -> int:
        """Add the image unless the library already has it; return its id either way.

        An existing image is returned untouched (its stars, tags and note are kept).
        """
        existing = self.find_by_recipe(recipe)
        if existing is not None:
            return existing
        return self.add(recipe, thumbnail, stars=stars, tags=tags, note=note, source=source, size=size)

    # -- reading -----------------------------------------------------------------------------

    def _images_from_rows(self, rows: list[sqlite3.Row | tuple[Any, ...]]) -> list[LibraryImage]:
        """Build LibraryImage objects (with their tags) from rows of _IMAGE_COLUMNS."""
        ids = [row[0] for row in rows]
        tags: dict[int, list[str]] = {i: [] for i in ids}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for image_id, tag in self._db.execute(
                f"SELECT image_id, tag FROM tags WHERE image_id IN ({marks}) ORDER BY tag COLLATE NOCASE",
                chunk,
            ):
                tags[image_id].append(tag)
        return [
            LibraryImage(
                id=row[0],
                recipe=_parse_recipe(row[1]),
                thumbnail_png=bytes(row[2]),
                model_fingerprint=row[3],
                model_name=row[4],
                stars=row[5],
                note=row[6],
                tags=tags[row[0]],
                created=row[7],
                width=row[8],
                height=row[9],
                source=row[10],
                recipe_json=row[1],
            )
            for row in rows
        ]

    def get(self, image_id: int) -> LibraryImage:
        """The image with this id; raises :class:`ImageNotFoundError` when there is none."""
        image_id = _check_id(image_id)
        row = self._db.execute(f"SELECT {_IMAGE_COLUMNS} FROM images WHERE id = ?", (image_id,)).fetchone()
        if row is None:
            raise ImageNotFoundError(f"no image with id {image_id} in the library")
        return self._images_from_rows([row])[0]

    def __contains__(self, image_id: object) -> bool:
        if isinstance(image_id, bool) or not isinstance(image_id, int):
            return False
        return self._db.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone() is not None

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM images").fetchone()[0])

    @staticmethod
    def _filters(
        model: str | None,
        tag: str | Iterable[str] | None,
        min_stars: int | None,
        text: str | None,
    ) -> tuple[str, list[Any]]:
        """The WHERE clause (possibly empty) and its parameters for the query filters."""
        clauses: list[str] = []
        params: list[Any] = []
        if model is not None:
            clauses.append("images.model_fingerprint = ?")
            params.append(_check_text("model", model))
        if tag is not None:
            for one in _clean_tags(tag):
                clauses.append("EXISTS (SELECT 1 FROM tags WHERE tags.image_id = images.id AND tags.tag = ?)")
                params.append(one)
        if min_stars is not None:
            clauses.append("images.stars >= ?")
            params.append(_check_stars(min_stars))
        if text is not None:
            words = list(dict.fromkeys(_check_text("text", text).split()))
            if len(words) > MAX_SEARCH_WORDS:
                raise LibraryError(f"a search can use at most {MAX_SEARCH_WORDS} different words; "
                                   f"this one has {len(words)}")
            for word in words:  # every word must appear in the note or the model name
                clauses.append(
                    "(images.note LIKE ? ESCAPE '\\' OR images.model_name LIKE ? ESCAPE '\\')"
                )
                pattern = _like_pattern(word)
                params.extend((pattern, pattern))
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        return where, params

    def query(
        self,
        *,
        model: str | None = None,
        tag: str | Iterable[str] | None = None,
        min_stars: int | None = None,
        text: str | None = None,
        order: str = "newest",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[LibraryImage]:
        """Images matching every given filter.

        ``model`` is a model fingerprint; ``tag`` one tag or several (all required, case
        ignored); ``min_stars`` the lowest rating; ``text`` words that must each appear in
        the note or model name (case-insensitive for ASCII). ``order`` is one of
        :data:`ORDERS` ('stars' = most stars first, newest first among equals). ``limit`` /
        ``offset`` page through the results.
        """
        where, params = self._filters(model, tag, min_stars, text)
        order_by = {
            "newest": "images.created DESC, images.id DESC",
            "oldest": "images.created ASC, images.id ASC",
            "stars": "images.stars DESC, images.created DESC, images.id DESC",
        }.get(order)
        if order_by is None:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be a whole number >= 0 or None, got {limit!r}")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError(f"offset must be a whole number >= 0, got {offset!r}")
        sql = (
            f"SELECT {_IMAGE_COLUMNS} FROM images{where} ORDER BY {order_by} LIMIT ? OFFSET ?"
        )
        rows = self._db.execute(sql, [*params, -1 if limit is None else limit, offset]).fetchall()
        return self._images_from_rows(rows)

    def count(
        self,
        *,
        model: str | None = None,
        tag: str | Iterable[str] | None = None,
        min_stars: int | None = None,
        text: str | None = None,
    ) -> int:
        """How many images :meth:`query` would return with these filters (no paging)."""
        where, params = self._filters(model, tag, min_stars, text)
        return int(self._db.execute(f"SELECT count(*) FROM images{where}", params).fetchone()[0])

    def ids(self) -> list[int]:
        """Every image id, oldest first."""
        return [r[0] for r in self._db.execute("SELECT id FROM images ORDER BY id")]

    # -- editing -----------------------------------------------------------------------------

    def set_stars(self, image_ids: int | Iterable[int], stars: int) -> None:
        """Set the rating (0-5) of one image or several."""
        ids = _ids(image_ids)
        stars = _check_stars(stars)
        with self._write() as db:
            self._require_images(db, ids)
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                db.execute(f"UPDATE images SET stars = ? WHERE id IN ({marks})", [stars, *chunk])
        self._notify("changed", ids)

    def set_note(self, image_id: int, note: str) -> None:
        """Replace an image's note."""
        image_id = _check_id(image_id)
        note = _check_text("a note", note)
        with self._write() as db:
            self._require_images(db, [image_id])
            db.execute("UPDATE images SET note = ? WHERE id = ?", (note, image_id))
        self._notify("changed", [image_id])

    def add_tags(self, image_ids: int | Iterable[int], tags: str | Iterable[str]) -> None:
        """Add tags to one image or several (tags already there are kept as they are)."""
        ids = _ids(image_ids)
        tag_list = _clean_tags(tags)
        with self._write() as db:
            self._require_images(db, ids)
            db.executemany(
                "INSERT OR IGNORE INTO tags (image_id, tag) VALUES (?, ?)",
                [(i, tag) for i in ids for tag in tag_list],
            )
        self._notify("changed", ids)

    def remove_tags(self, image_ids: int | Iterable[int], tags: str | Iterable[str]) -> None:
        """Remove tags (case ignored) from one image or several; absent tags are ignored."""
        ids = _ids(image_ids)
        tag_list = _clean_tags(tags)
        with self._write() as db:
            self._require_images(db, ids)
            db.executemany(
                "DELETE FROM tags WHERE image_id = ? AND tag = ?",
                [(i, tag) for i in ids for tag in tag_list],
            )
        self._notify("changed", ids)

    def all_tags(self) -> list[tuple[str, int]]:
        """Every tag with the number of images carrying it, most used first, then A-Z."""
        rows = self._db.execute(
            "SELECT min(tag), count(*) AS n FROM tags GROUP BY tag COLLATE NOCASE "
            "ORDER BY n DESC, min(tag) COLLATE NOCASE"
        ).fetchall()
        return [(tag, int(n)) for tag, n in rows]

    def delete(self, image_ids: int | Iterable[int]) -> int:
        """Delete images (their tags and collection entries go with them); ids not in the
        library are ignored. Returns how many were deleted."""
        ids = _ids(image_ids)
        deleted: list[int] = []
        with self._write() as db:
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                deleted.extend(r[0] for r in db.execute(f"SELECT id FROM images WHERE id IN ({marks})", chunk))
                db.execute(f"DELETE FROM images WHERE id IN ({marks})", chunk)
        self._notify("deleted", deleted)
        return len(deleted)

    # -- models ------------------------------------------------------------------------------

    def remember_model(self, fingerprint: str, name: str = "", path: str | os.PathLike[str] | None = None) -> None:
        """Record that a model was seen (e.g. opened): refresh its name, path and last-seen
        time, adding it when new. An empty name or a None path keep the stored values."""
        fingerprint = _check_text("a model fingerprint", fingerprint)
        if not fingerprint:
            raise ValueError("a model fingerprint must not be empty")
        name = _check_text("a model name", name)
        path_text = None if path is None else os.fspath(path)
        with self._write() as db:
            self._upsert_model(db, fingerprint, name, path_text)
        self._notify("models", [fingerprint])

    def models(self) -> list[ModelRecord]:
        """Every model seen, most recently seen first, with its number of library images."""
        rows = self._db.execute(
            """
            SELECT m.fingerprint, m.name, m.last_path, m.first_seen, m.last_seen,
                   (SELECT count(*) FROM images WHERE images.model_fingerprint = m.fingerprint)
            FROM models AS m ORDER BY m.last_seen DESC, m.name
            """
        ).fetchall()
        return [ModelRecord(*row) for row in rows]

    def model(self, fingerprint: str) -> ModelRecord | None:
        """The record of one model, or None when it was never seen."""
        for record in self.models():
            if record.fingerprint == fingerprint:
                return record
        return None

    # -- collections -------------------------------------------------------------------------

    def create_collection(self, name: str) -> int:
        """Create an empty collection and return its id; names are unique (case ignored)."""
        name = " ".join(_check_text("a collection name", name).split())
        if not name:
            raise ValueError("a collection name must not be empty")
        try:
            with self._write() as db:
                cursor = db.execute("INSERT INTO collections (name, created) VALUES (?, ?)", (name, _now()))
                collection_id = int(cursor.lastrowid)
        except LibraryError as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise LibraryError(f"a collection named {name!r} already exists") from None
            raise
        self._notify("collections", [collection_id])
        return collection_id

    def _require_collection(self, db: sqlite3.Connection, collection_id: int) -> None:
        """Raise :class:`LibraryError` unless the collection exists."""
        if db.execute("SELECT 1 FROM collections WHERE id = ?", (_check_id(collection_id),)).fetchone() is None:
            raise LibraryError(f"no collection with id {collection_id} in the library")

    def add_to_collection(self, collection_id: int, image_ids: int | Iterable[int]) -> None:
        """Append images to the end of a collection (ones already in it stay where they are)."""
        ids = _ids(image_ids)
        with self._write() as db:
            self._require_collection(db, collection_id)
            self._require_images(db, ids)
            position = db.execute(
                "SELECT coalesce(max(position), -1) FROM collection_items WHERE collection_id = ?",
                (collection_id,),
            ).fetchone()[0]
            for image_id in ids:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO collection_items (collection_id, image_id, position) VALUES (?, ?, ?)",
                    (collection_id, image_id, position + 1),
                )
                position += cursor.rowcount
        self._notify("collections", [collection_id])

    def remove_from_collection(self, collection_id: int, image_ids: int | Iterable[int]) -> None:
        """Take images out of a collection (the images themselves stay in the library)."""
        ids = _ids(image_ids)
        with self._write() as db:
            self._require_collection(db, collection_id)
            db.executemany(
                "DELETE FROM collection_items WHERE collection_id = ? AND image_id = ?",
                [(collection_id, i) for i in ids],
            )
        self._notify("collections", [collection_id])

    def delete_collection(self, collection_id: int) -> None:
        """Delete a collection (its images stay in the library)."""
        with self._write() as db:
            self._require_collection(db, collection_id)
            db.execute("DELETE FROM collections WHERE id = ?", (collection_id,))
        self._notify("collections", [collection_id])

    def collection_items(self, collection_id: int) -> list[LibraryImage]:
        """The images of a collection in their order."""
        self._require_collection(self._db, collection_id)
        rows = self._db.execute(
            f"""
            SELECT {', '.join('images.' + c.strip() for c in _IMAGE_COLUMNS.split(','))}
            FROM collection_items JOIN images ON images.id = collection_items.image_id
            WHERE collection_items.collection_id = ? ORDER BY collection_items.position
            """,
            (collection_id,),
        ).fetchall()
        return self._images_from_rows(rows)

    def collections(self) -> list[CollectionRecord]:
        """Every collection, A-Z, with its size."""
        rows = self._db.execute(
            """
            SELECT c.id, c.name, c.created,
                   (SELECT count(*) FROM collection_items AS i WHERE i.collection_id = c.id)
            FROM collections AS c ORDER BY c.name COLLATE NOCASE
            """
        ).fetchall()
        return [CollectionRecord(*row) for row in rows]

    # -- maintenance -------------------------------------------------------------------------

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` result: ``'ok'`` for a healthy database."""
        rows = self._db.execute("PRAGMA integrity_check").fetchall()
        return "\n".join(str(r[0]) for r in rows)
