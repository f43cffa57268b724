"""Networks from elsewhere: the catalogue of known public models and a careful downloader.

* ``catalogue`` - ``models/catalog.json`` behind "Get models...".
* ``download``  - resumable, size-capped, checksummed downloads into the user's cache.
"""
