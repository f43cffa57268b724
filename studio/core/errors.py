"""Errors the studio reports to people as one clear line (CLI exit code 2, GUI status bar)."""


class StudioError(Exception):
    """Base class: the message is complete and meant for the user, no traceback needed."""


class ModelFormatError(StudioError):
    """A file is not a network the studio can read (empty, truncated, wrong type, unsupported)."""


class UnsafeFileError(ModelFormatError):
    """A file asked for something the studio will never do (e.g. a pickle referencing a
    global outside the allow-list). Nothing from the file was executed."""
