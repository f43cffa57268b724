"""The studio's ground floor: what every other package may use, importing neither torch nor Qt.

* ``errors``   - :class:`StudioError` and its kinds: messages meant for the artist, one line each.
* ``atomic``   - writes that land whole or not at all (temporary file, fsync, rename).
* ``paths``    - the user's folders (platformdirs, or ``STUDIO_HOME``) and the project's own.
* ``settings`` - the settings file (the model used last, the CLIP chosen, the device).
* ``device``   - ``pick_device``: one rule for auto / cpu / cuda / mps (torch is imported when called).
* ``hashing``  - sha256 of files.
* ``runtime``  - process tuning (the allocator) for long renders.
"""
