"""Networks from the internet: a careful downloader.

Artists open models by URL (``studio https://.../network.pkl``) or pick one from the
"Get models..." catalogue (:mod:`studio.hub.catalogue`). Everything here is plain Python on top of
``requests``; the GUI runs :func:`download` in a worker and passes ``progress`` and
``should_cancel`` hooks.

What :func:`download` guarantees:

* **Cache** - files land in :func:`studio.core.paths.models_cache_dir` under a name made from the URL
  (``ffhq-1a2b3c4d.pkl``: the sanitised file name plus a short hash of the whole URL). A file
  that is already there is returned without touching the network.
* **Resume** - bytes go to ``<name>.part`` as they arrive (a dropped connection loses nothing
  that arrived). Beside it, ``<name>.part.json`` records what identifies the server's file (its
  strong ETag or Last-Modified date, and its length). The next call asks for the rest with
  ``Range`` and ``If-Range``, so a file that changed on the server comes back whole instead of
  being spliced onto the old bytes; a ``.part`` without a validator starts again from zero.
* **Deadlines** - ``timeout`` bounds the wait for any byte; a download that crawls below
  :data:`MIN_RATE` for ``stall_seconds``, or runs past ``max_seconds``, is stopped (its ``.part``
  kept); ``should_cancel`` is polled after every read, which returns as soon as bytes arrive.
* **Limits** - a download larger than ``max_bytes`` is refused from its ``Content-Length``
  before any body is read, and stopped (its ``.part`` deleted) if the body grows past it.
* **Verification** - the length the server announced must arrive, no more and no less; the
  sha256 is checked when one is known; the file must look like a network the studio reads
  (:func:`studio.gan.formats.detect_format`, header only; nothing is unpickled here) and be
  whole by its own structure (:func:`studio.gan.formats.missing_end`), which also catches a
  body cut short by a server that announced no length. A file that fails is deleted and
  refused. Only then is the ``.part`` renamed to its final name, atomically.
* **Record** - the sha256 of the first file that arrives from each URL is kept in the cache's
  :data:`CHECKSUMS_FILE`; when a later download from that URL differs, ``warn`` hears it.
* **Errors** - every failure is a :class:`DownloadError` with a one-line message naming the
  URL; a cancel is a :class:`DownloadCancelled`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator
from urllib.parse import unquote, urldefrag, urlsplit
from urllib.request import url2pathname

import requests
import urllib3

from studio.core.atomic import atomic_write_text, fsync_dir
from studio.core.errors import ModelFormatError, StudioError
from studio.core.hashing import file_sha256
from studio.core.paths import models_cache_dir

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DownloadCancelled",
    "DownloadError",
    "cache_file_name",
    "download",
    "is_url",
    "resolve_model_source",
]


#: Default size cap for one download (4 GiB; the largest public StyleGAN pickles are ~0.4 GB).
DEFAULT_MAX_BYTES = 4 * 2**30

#: Suffix of the file a download writes to until it is complete and verified.
PART_SUFFIX = ".part"

#: A download that brings fewer bytes a second than this, averaged over ``stall_seconds``, is stopped.
MIN_RATE = 1000

#: Default ``stall_seconds``: how long a download may crawl below :data:`MIN_RATE`.
STALL_SECONDS = 60.0

#: Default ``max_seconds``: no download runs longer (4 GiB at 100 KB/s takes about 12 hours).
MAX_SECONDS = 12 * 3600.0

#: The cache folder's record of the sha256 each URL's file had when it first arrived.
CHECKSUMS_FILE = "checksums.json"

ProgressFn = Callable[[int, "int | None"], None]
CancelFn = Callable[[], bool]
WarnFn = Callable[[str], None]

_log = logging.getLogger(__name__)
_SMALL_JSON_BYTES = 64 * 2**10   # a validator file is a few hundred bytes
_RECORDS_MAX_BYTES = 16 * 2**20  # the checksum record: tens of thousands of downloads

_HASH_CHARS = 8          # hex digits of the URL hash in a cache file name
_MAX_STEM_CHARS = 80     # longest file-name stem kept from a URL
_SNIFF_BYTES = 1024      # bytes inspected to recognise a web page
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml", b"<!--")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
_URL_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class DownloadError(StudioError):
    """A download failed; the message is one line naming the URL and what went wrong.

    ``status`` is the HTTP status code when the server answered with an error, else None.
    """

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class DownloadCancelled(StudioError):
    """The caller's ``should_cancel()`` said stop. The ``.part`` file is kept, so calling
    :func:`download` again with the same URL resumes where this one stopped."""

    def __init__(self, message: str, *, url: str | None = None, part_path: Path | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.part_path = part_path


# --------------------------------------------------------------------------------------------
# URLs and cache names
# --------------------------------------------------------------------------------------------


def is_url(text: str) -> bool:
    """True when ``text`` looks like a URL (``scheme://...``) rather than a file path.

    Any scheme counts, so ``ftp://...`` is routed to :func:`download`, which then explains that
    only http and https are supported. Windows paths such as ``C:\\models\\x.pkl`` are paths.
    """
    return bool(_URL_SCHEME_RE.match(text.strip()))


def is_http_url(text: str) -> bool:
    """True for an http:// or https:// URL with a host."""
    try:
        parts = urlsplit(text.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def cache_file_name(url: str) -> str:
    """The cache file name for ``url``: its last path segment, sanitised, plus a URL hash.

    ``https://host/a/ffhq.pkl`` becomes ``ffhq-<8 hex>.pkl``. The extension is kept (when it
    is a plain one), characters other than letters, digits, ``.``, ``_`` and ``-`` become
    ``_``, and the hash of the full URL (without ``#fragment``) keeps two different URLs that
    end in the same name apart.
    """
    url = urldefrag(url.strip())[0]
    last = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    pure = PurePosixPath(last.replace("\\", "_")) if last else PurePosixPath("network")
    suffix = pure.suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,12}", pure.suffix or "") else ""
    stem = pure.name[: len(pure.name) - len(suffix)] if suffix else pure.name
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:_MAX_STEM_CHARS].strip("._-") or "network"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    return f"{stem}-{digest}{suffix.lower()}"


def resolve_model_source(
    text: str,
    progress: ProgressFn | None = None,
    *,
    should_cancel: CancelFn | None = None,
    warn: WarnFn | None = None,
) -> Path:
    """Turn what an artist typed (a path or a URL) into a local file path.

    A local path is returned with ``~`` expanded (existence is checked later by the loader);
    a ``file://`` URL becomes its local path; an http(s) URL is downloaded into the cache
    (or taken from it) with :func:`download`, checked against the catalogue's sha256 when the
    catalogue lists it with one.
    """
    text = text.strip()
    if not is_url(text):
        return Path(text).expanduser()
    parts = urlsplit(text)
    if parts.scheme.lower() == "file":
        return Path(url2pathname(parts.path))
    return download(text, expected_sha256=_catalogued_sha256(text), progress=progress,
                    should_cancel=should_cancel, warn=warn)


def _catalogued_sha256(url: str) -> str | None:
    """The sha256 the bundled catalogue gives for ``url``, if it lists the URL with one."""
    from studio.hub.catalogue import load_catalog  # the catalogue imports this module

    try:
        entries = load_catalog()
    except ValueError:
        return None
    return next((entry.sha256 for entry in entries if entry.url == url.strip() and entry.sha256), None)


# --------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------

_locks_guard = threading.Lock()
_locks: dict[Path, threading.Lock] = {}


@contextlib.contextmanager
def _exclusive(target: Path) -> Iterator[None]:
    """Serialise downloads to the same file within this process (two clicks, one ``.part``)."""
    with _locks_guard:
        lock = _locks.setdefault(target, threading.Lock())
    with lock:
        yield


def download(
    url: str,
    *,
    dest_dir: str | os.PathLike[str] | None = None,
    expected_sha256: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: ProgressFn | None = None,
    should_cancel: CancelFn | None = None,
    warn: WarnFn | None = None,
    session: requests.Session | None = None,
    chunk_size: int = 1 << 16,
    timeout: float = 30,
    stall_seconds: float = STALL_SECONDS,
    max_seconds: float = MAX_SECONDS,
) -> Path:
    """Download the network at ``url`` into the model cache and return its path.

    Args:
        url: http:// or https:// link to the network file.
        dest_dir: folder to download into (default :func:`studio.core.paths.models_cache_dir`).
        expected_sha256: hex digest the file must have; a mismatch deletes it.
        max_bytes: refuse or stop downloads larger than this.
        progress: called as ``progress(done_bytes, total_bytes_or_None)`` after every read.
        should_cancel: polled after every read; returning True raises :class:`DownloadCancelled`.
        warn: called with one line when something is worth knowing but not fatal: the file at
            ``url`` differs from the one first downloaded from it (see :data:`CHECKSUMS_FILE`).
        session: a ``requests.Session`` to use (one is created and closed otherwise).
        chunk_size: most bytes taken from the network per read (a read returns what has arrived).
        timeout: seconds to wait for the connection and for any byte at all.
        stall_seconds: a download that brings fewer than :data:`MIN_RATE` bytes a second over
            this many seconds is stopped (its ``.part`` kept for a resume).
        max_seconds: a download still running after this many seconds is stopped the same way.

    Returns the final file, which already existed (and matched ``expected_sha256``) or is
    complete and verified. Raises :class:`DownloadError` or :class:`DownloadCancelled`;
    see the module docstring for what is kept on disk in each case.
    """
    url = url.strip()
    if not is_http_url(url):
        raise DownloadError(f"only http:// and https:// links can be downloaded, not '{url}'", url=url)
    if expected_sha256 is not None:
        expected_sha256 = expected_sha256.strip().lower()
        if not SHA256_RE.fullmatch(expected_sha256):
            raise ValueError(f"expected_sha256 must be 64 hexadecimal digits, not {expected_sha256!r}")
    if max_bytes <= 0 or chunk_size <= 0:
        raise ValueError("max_bytes and chunk_size must be positive")

    folder = Path(dest_dir).expanduser() if dest_dir is not None else models_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / cache_file_name(url)
    limits = _Limits(max_bytes, chunk_size, timeout, stall_seconds, max_seconds)

    with _exclusive(target):
        if _cached_file_ok(target, expected_sha256):
            return target
        own_session = session is None
        http = requests.Session() if own_session else session
        try:
            digest = _Fetch(url, target, http, limits, progress, should_cancel).run()
        finally:
            if own_session:
                http.close()
        part = _part_path(target)
        _verify(url, part, digest, expected_sha256)
        os.replace(part, target)
        _remove(_validator_path(part))
        fsync_dir(folder)
        _record_checksum(folder, target.name, url, digest, target.stat().st_size, warn)
        return target


def _cached_file_ok(target: Path, expected_sha256: str | None) -> bool:
    """True when ``target`` exists and (if a digest is given) matches it; a mismatching
    cached file is deleted so it is downloaded again."""
    if not target.is_file():
        return False
    if expected_sha256 is None or file_sha256(target) == expected_sha256:
        return True
    _remove(target)
    return False


@dataclass(frozen=True)
class _Limits:
    """How much and how long one download may take."""

    max_bytes: int
    chunk_size: int
    timeout: float
    stall_seconds: float
    max_seconds: float


class _Fetch:
    """One download: brings ``<target>.part`` to the complete file and returns its sha256.

    A ``.part`` is resumed only when the validator recorded beside it (``<target>.part.json``:
    the server's strong ETag or Last-Modified date, and the size it announced) is sent back as
    ``If-Range``: a server whose file changed answers with the whole new file, never a splice.
    A ``.part`` without a validator, or one the server's answers do not bear out, is dropped and
    the download starts from zero (once; a second contradiction is an error).
    """

    def __init__(self, url: str, target: Path, http: requests.Session, limits: _Limits,
                 progress: ProgressFn | None, should_cancel: CancelFn | None) -> None:
        self.url, self.http, self.limits = url, http, limits
        self.progress, self.should_cancel = progress, should_cancel
        self.part = _part_path(target)
        self.validator_file = _validator_path(self.part)
        self.started = time.monotonic()
        self.received = 0       # bytes in the .part so far

    def run(self) -> str:
        for _attempt in range(2):
            self._check_cancel(self.part.stat().st_size if self.part.is_file() else 0)
            offset, validator = self._resumable()
            headers = {"Accept-Encoding": "identity"}
            if offset:
                headers["Range"] = f"bytes={offset}-"
                headers["If-Range"] = validator.get("etag") or validator["last_modified"]
            timeout = self.limits.timeout
            try:
                response = self.http.get(self.url, headers=headers, stream=True, timeout=(timeout, timeout))
            except requests.RequestException as exc:
                raise DownloadError(_request_failure(self.url, exc, timeout), url=self.url) from None
            with response:
                digest = self._receive(response, offset, validator)
            if digest is not None:
                return digest
            self._discard()
        raise DownloadError(f"could not download {self.url}: the server's answers to a resumed download "
                            "do not add up", url=self.url)

    # -- the .part and its validator ---------------------------------------------------------------
    def _resumable(self) -> tuple[int, dict]:
        """(bytes already here, their validator), or (0, {}) after dropping a .part that cannot be
        resumed safely."""
        size = self.part.stat().st_size if self.part.is_file() else 0
        validator = _read_validator(self.validator_file, self.url)
        total = validator.get("total")
        if (size and validator and (validator.get("etag") or validator.get("last_modified"))
                and size <= self.limits.max_bytes and (total is None or size <= total)):
            return size, validator
        self._discard()
        return 0, {}

    def _discard(self) -> None:
        _drop_part(self.part)

    def _start_over(self, response: requests.Response, total: int | None) -> None:
        """Record what identifies the file the server is sending, before its first byte lands."""
        etag = response.headers.get("ETag", "").strip()
        validator = {
            "url": self.url,
            "etag": etag if etag.startswith('"') else None,       # weak ETags (W/"...") cannot resume
            "last_modified": response.headers.get("Last-Modified") or None,
            "total": total,
        }
        atomic_write_text(self.validator_file, json.dumps(validator))

    # -- one answer --------------------------------------------------------------------------------
    def _receive(self, response: requests.Response, offset: int, validator: dict) -> str | None:
        """Handle one HTTP answer: the complete file's sha256, or None when the ``.part`` must be
        dropped and the download started again from zero."""
        status, url = response.status_code, self.url
        if status == 416 and offset:
            total = _content_range_total(response.headers.get("Content-Range", ""))
            # equal sizes: the .part already is the whole file (a crash came before the rename)
            return file_sha256(self.part) if total == offset == validator.get("total") else None
        if status == 206 and offset:
            start, total = _content_range(response.headers.get("Content-Range", ""))
            etag = response.headers.get("ETag", "").strip()
            if start != offset or total != validator.get("total") or (
                    validator.get("etag") and etag and etag != validator["etag"]):
                return None
            mode = "ab"
        elif status == 200:
            offset, mode = 0, "wb"     # a new file, a changed one (If-Range), or no range support
            encoded = response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
            total = None if encoded else _int_or_none(response.headers.get("Content-Length"))
        else:
            reason = f" {response.reason}" if response.reason else ""
            raise DownloadError(f"could not download {url}: the server answered {status}{reason}",
                                url=url, status=status)

        if total is not None and total > self.limits.max_bytes:
            self._discard()
            raise DownloadError(f"refused to download {url}: it is {_human_size(total)}, over the "
                                f"{_human_size(self.limits.max_bytes)} limit", url=url)
        if mode == "wb":
            self._start_over(response, total)
        digest = hashlib.sha256()
        if mode == "ab":
            with open(self.part, "rb") as f:
                while block := f.read(1 << 20):
                    digest.update(block)
        self.received = offset
        if self.progress is not None:
            self.progress(offset, total)
        try:
            with open(self.part, mode) as out:
                self._copy(response, out, digest, total)
                out.flush()
                os.fsync(out.fileno())
        except (requests.RequestException, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
            of_total = f" of {_human_size(total)}" if total is not None else ""
            raise DownloadError(
                f"the download of {url} was interrupted after {_human_size(self.received)}{of_total} "
                f"({_request_failure_reason(exc, self.limits.timeout)}); run it again to resume", url=url) from None
        except OSError as exc:      # the disk, not the network
            raise DownloadError(f"could not save {url} to '{self.part}': {exc.strerror or exc}", url=url) from None

        done = self.received
        if total is not None and done < total:
            raise DownloadError(f"the download of {url} stopped after {_human_size(done)} of {_human_size(total)}; "
                                "run it again to resume", url=url)
        if total is not None and done > total:
            self._discard()
            raise DownloadError(f"could not download {url}: the server sent more data than it announced", url=url)
        return digest.hexdigest()

    def _copy(self, response: requests.Response, out, digest, total: int | None) -> None:
        """Move the body to ``out`` as it arrives, read by read, so an interruption loses nothing
        that arrived; ``self.received`` counts the bytes in the ``.part`` as they land."""
        limits, url = self.limits, self.url
        done = self.received
        window_start, window_done = time.monotonic(), done
        while chunk := response.raw.read1(limits.chunk_size, decode_content=True):
            if done == 0 and _looks_like_html(chunk[:_SNIFF_BYTES]):
                out.close()
                self._discard()
                raise DownloadError(_web_page_message(url), url=url)
            if done + len(chunk) > limits.max_bytes:
                out.close()
                self._discard()
                raise DownloadError(f"stopped downloading {url}: it grew past the "
                                    f"{_human_size(limits.max_bytes)} limit", url=url)
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            self.received = done
            if self.progress is not None:
                self.progress(done, total)
            self._check_cancel(done)
            now = time.monotonic()
            if now - self.started > limits.max_seconds:
                raise DownloadError(f"stopped downloading {url} after {_human_duration(limits.max_seconds)} with "
                                    f"{_human_size(done)} received; run it again to resume", url=url)
            if now - window_start >= limits.stall_seconds:
                if done - window_done < MIN_RATE * (now - window_start):
                    raise DownloadError(
                        f"the download of {url} stalled (under {_human_size(MIN_RATE)}/s for "
                        f"{_human_duration(now - window_start)}) after {_human_size(done)}; run it again to resume",
                        url=url)
                window_start, window_done = now, done

    def _check_cancel(self, done: int) -> None:
        if self.should_cancel is not None and self.should_cancel():
            kept = f" after {_human_size(done)}; run it again to resume" if done else ""
            raise DownloadCancelled(f"download of {self.url} cancelled{kept}", url=self.url, part_path=self.part)


def _verify(url: str, part: Path, digest: str, expected_sha256: str | None) -> None:
    """Check the finished ``.part``: checksum (when known), that it is a network file, and that
    the file is whole by its own structure (a body cut short without a length, or a server that
    sent more than it announced, leaves a file whose end is missing). A file that fails is deleted."""
    if expected_sha256 is not None and digest != expected_sha256:
        _drop_part(part)
        raise DownloadError(
            f"the file downloaded from {url} does not match its checksum "
            f"(expected sha256 {expected_sha256[:12]}..., got {digest[:12]}...); it was deleted",
            url=url,
        )
    with open(part, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    if _looks_like_html(head):
        _drop_part(part)
        raise DownloadError(_web_page_message(url), url=url)
    from studio.gan.formats import (  # imports torch: only when needed
        detect_format,
        missing_end,
    )

    try:
        fmt = detect_format(part)
    except ModelFormatError:
        _drop_part(part)
        raise DownloadError(
            f"the file downloaded from {url} is not a network the studio can read "
            "(expected an NVIDIA .pkl, a rosinality .pt or a studio .safetensors); it was deleted",
            url=url,
        ) from None
    problem = missing_end(part, fmt)
    if problem is not None:
        _drop_part(part)
        raise DownloadError(f"the file downloaded from {url} is incomplete ({problem}); it was deleted, "
                            "so the next try starts afresh", url=url)


def _part_path(target: Path) -> Path:
    """Where the bytes of ``target`` gather until the file is complete."""
    return target.with_name(target.name + PART_SUFFIX)


def _validator_path(part: Path) -> Path:
    """Where the validator of a ``.part`` is kept (see :class:`_Fetch`)."""
    return part.with_name(part.name + ".json")


def _drop_part(part: Path) -> None:
    """Delete a ``.part`` and the validator beside it."""
    _remove(part)
    _remove(_validator_path(part))


def _read_validator(path: Path, url: str) -> dict:
    """The validator recorded for a ``.part`` of ``url``, or {} when there is none worth trusting."""
    try:
        if path.stat().st_size > _SMALL_JSON_BYTES:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict) or data.get("url") != url:
        return {}
    total = data.get("total")
    if total is not None and (not isinstance(total, int) or isinstance(total, bool) or total < 0):
        return {}
    etag, last_modified = data.get("etag"), data.get("last_modified")
    return {"etag": etag if isinstance(etag, str) else None,
            "last_modified": last_modified if isinstance(last_modified, str) else None, "total": total}


def _record_checksum(folder: Path, name: str, url: str, digest: str, size: int, warn: WarnFn | None) -> None:
    """Remember the sha256 of the first file that arrived from ``url``; warn when a later one differs.

    The record (:data:`CHECKSUMS_FILE` in the cache folder) keeps the first arrival for good, so a
    server whose copy changes (or is swapped) is noticed every time, not only once.
    """
    record_file = folder / CHECKSUMS_FILE
    records: dict = {}
    with contextlib.suppress(OSError, ValueError, RecursionError):
        if record_file.stat().st_size <= _RECORDS_MAX_BYTES:
            loaded = json.loads(record_file.read_text(encoding="utf-8"))
            records = loaded if isinstance(loaded, dict) else {}
    first = records.get(name)
    if isinstance(first, dict) and isinstance(first.get("sha256"), str):
        if first["sha256"] != digest:
            message = (f"the file now at {url} is not the one first downloaded from it on "
                       f"{first.get('date', 'an earlier day')} (sha256 {first['sha256'][:12]}... then, "
                       f"{digest[:12]}... now): the server's copy has changed; check where it comes from "
                       "before trusting it")
            (warn or _log.warning)(message)
        return
    records[name] = {"url": url, "sha256": digest, "size": size, "date": time.strftime("%Y-%m-%d")}
    try:
        atomic_write_text(record_file, json.dumps(records, indent=1))
    except OSError as exc:   # the model is fine; only its record is missing
        (warn or _log.warning)(f"could not record the checksum of {name} in '{record_file}': {exc.strerror or exc}")


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _looks_like_html(head: bytes) -> bool:
    """True when the first bytes of a file are a web page (or other markup), not a network."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith(_HTML_MARKERS) or (text.startswith(b"<") and b"<html" in text)


def _web_page_message(url: str) -> str:
    """The one-line refusal for an HTML answer."""
    return (
        f"{url}: the server sent a web page, not a network file "
        "(the link may point to a download page instead of the file itself)"
    )


def _request_failure_reason(exc: Exception, timeout: float) -> str:
    """A few words for what went wrong with a request (requests' errors, and urllib3's and the
    socket's while the body is read)."""
    if isinstance(exc, (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, (requests.exceptions.SSLError, urllib3.exceptions.SSLError)):
        return "the secure connection failed"
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError,
                        ConnectionError)):
        return "the connection dropped"
    if isinstance(exc, requests.ConnectionError):
        return "the connection failed"
    if isinstance(exc, requests.TooManyRedirects):
        return "too many redirects"
    return type(exc).__name__


def _request_failure(url: str, exc: requests.RequestException, timeout: float) -> str:
    """The one-line message for a request that got no usable answer."""
    host = urlsplit(url).netloc
    if isinstance(exc, requests.Timeout):
        return f"could not download {url}: {host} did not answer within {timeout:g} s"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"could not download {url}: the secure connection to {host} failed"
    if isinstance(exc, requests.ConnectionError):
        return f"could not download {url}: cannot connect to {host}"
    return f"could not download {url}: {_request_failure_reason(exc, timeout)}"


def _content_range(header: str) -> tuple[int | None, int | None]:
    """``bytes START-END/TOTAL`` -> (START, TOTAL); parts that are missing or ``*`` are None."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-\d+/(\d+|\*)\s*", header)
    if not match:
        return None, None
    return int(match.group(1)), _int_or_none(match.group(2))


def _content_range_total(header: str) -> int | None:
    """The TOTAL of ``bytes */TOTAL`` (a 416 answer) or of a full Content-Range, else None."""
    match = re.fullmatch(r"\s*bytes\s+(?:\*|\d+-\d+)/(\d+)\s*", header)
    return int(match.group(1)) if match else None


def _int_or_none(text: str | None) -> int | None:
    """A non-negative integer header value, or None when absent or malformed."""
    if text is None or not text.strip().isdigit():
        return None
    return int(text.strip())


def _human_size(n: int) -> str:
    """Bytes as a short human-readable size (``1.5 GB``, ``812 KB``, ``37 bytes``)."""
    if n < 1000:
        return f"{n} bytes"
    value = float(n)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{n} bytes"  # unreachable


def _human_duration(seconds: float) -> str:
    """Seconds as a short duration (``45 s``, ``3 min``, ``12 h``)."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


def _remove(path: Path) -> None:
    """Delete ``path`` if it exists."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


