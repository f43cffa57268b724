"""The library: SQLite store of favourite images, their recipes, tags, models and collections.

No Qt here; the Library panel in ``studio.ui`` builds on :class:`Library`.
"""

from studio.library.store import (
    EVENTS,
    MAX_STARS,
    ORDERS,
    SCHEMA_VERSION,
    THUMBNAIL_SIZE,
    CollectionRecord,
    ImageNotFoundError,
    Library,
    LibraryDamagedError,
    LibraryError,
    LibraryImage,
    ModelRecord,
    recipe_key,
)

__all__ = [
    "EVENTS",
    "MAX_STARS",
    "ORDERS",
    "SCHEMA_VERSION",
    "THUMBNAIL_SIZE",
    "CollectionRecord",
    "ImageNotFoundError",
    "Library",
    "LibraryDamagedError",
    "LibraryError",
    "LibraryImage",
    "ModelRecord",
    "recipe_key",
]
