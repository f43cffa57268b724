"""Networks from the internet: a careful downloader.

Artists open models by URL (``studio https://.../network.pkl``) or pick one from the
"Get models..." catalogue (:mod:`studio.hub.catalogue`). Everything here is plain Python on top of
``requests``; the GUI runs :func:`download` in a worker and passes ``progress`` and
``should_cancel`` hooks.

What :func:`download` guarantees:

* **Cache** - files land in :func:`studio.core.paths.models_cache_dir` under a name made from the URL
  (``ffhq-1a2b3c4d.pkl``: the sanitised file name plus a short hash of the whole URL). A file
  that is already there is returned without touching the network.
* **Resume** - bytes go to ``<name>.part`` first. A dropped connection or a cancel keeps the
  ``.part``; the next call asks the server for the rest with ``Range: bytes=N-`` and starts
  again from zero when the server does not do ranges.
* **Limits** - a download larger than ``max_bytes`` is refused from its ``Content-Length``
  before any body is read, and stopped (its ``.part`` deleted) if the body grows past it.
* **Verification** - the sha256 is checked when one is known, and the file must look like a
  network the studio reads (:func:`studio.gan.formats.detect_format`, header only; nothing
  is unpickled here). A web page or any other file is deleted and refused. Only then is the
  ``.part`` renamed to its final name, atomically.
* **Errors** - every failure is a :class:`DownloadError` with a one-line message naming the
  URL; a cancel is a :class:`DownloadCancelled`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator
from urllib.parse import unquote, urldefrag, urlsplit
from urllib.request import url2pathname

import requests

from studio.core.atomic import fsync_dir
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

ProgressFn = Callable[[int, "int | None"], None]
CancelFn = Callable[[], bool]

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
# Catalogue
# --------------------------------------------------------------------------------------------



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
) -> Path:
    """Turn what an artist typed (a path or a URL) into a local file path.

    A local path is returned with ``~`` expanded (existence is checked later by the loader);
    a ``file://`` URL becomes its local path; an http(s) URL is downloaded into the cache
    (or taken from it) with :func:`download`.
    """
    text = text.strip()
    if not is_url(text):
        return Path(text).expanduser()
    parts = urlsplit(text)
    if parts.scheme.lower() == "file":
        return Path(url2pathname(parts.path))
    return download(text, progress=progress, should_cancel=should_cancel)


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
    session: requests.Session | None = None,
    chunk_size: int = 1 << 20,
    timeout: float = 30,
) -> Path:
    """Download the network at ``url`` into the model cache and return its path.

    Args:
        url: http:// or https:// link to the network file.
        dest_dir: folder to download into (default :func:`studio.core.paths.models_cache_dir`).
        expected_sha256: hex digest the file must have; a mismatch deletes it.
        max_bytes: refuse or stop downloads larger than this.
        progress: called as ``progress(done_bytes, total_bytes_or_None)`` after every chunk.
        should_cancel: polled after every chunk; returning True raises :class:`DownloadCancelled`.
        session: a ``requests.Session`` to use (one is created and closed otherwise).
        chunk_size: bytes read from the network per step.
        timeout: seconds to wait for the connection and for each read.

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
    part = target.with_name(target.name + PART_SUFFIX)

    with _exclusive(target):
        if _cached_file_ok(target, expected_sha256):
            return target
        own_session = session is None
        http = requests.Session() if own_session else session
        try:
            _fetch(url, part, http, max_bytes, progress, should_cancel, chunk_size, timeout)
        finally:
            if own_session:
                http.close()
        _verify(url, part, expected_sha256)
        os.replace(part, target)
        fsync_dir(folder)
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


def _fetch(
    url: str,
    part: Path,
    http: requests.Session,
    max_bytes: int,
    progress: ProgressFn | None,
    should_cancel: CancelFn | None,
    chunk_size: int,
    timeout: float,
) -> None:
    """Bring ``part`` to the complete file, resuming it when it exists.

    A server that answers a range request with nonsense (a 416 whose size disagrees, a 206
    starting elsewhere) gets one more try from zero.
    """
    for attempt in range(2):
        if should_cancel is not None and should_cancel():
            raise DownloadCancelled(f"download of {url} cancelled", url=url, part_path=part)
        offset = part.stat().st_size if part.is_file() else 0
        if offset > max_bytes:
            _remove(part)
            offset = 0
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            response = http.get(url, headers=headers, stream=True, timeout=(timeout, timeout))
        except requests.RequestException as exc:
            raise DownloadError(_request_failure(url, exc, timeout), url=url) from None
        with response:
            restart = _receive(url, part, response, offset, max_bytes, progress, should_cancel, chunk_size, timeout)
        if not restart:
            return
        _remove(part)
    raise DownloadError(f"could not download {url}: the server's answers to a resumed download do not add up", url=url)


def _receive(
    url: str,
    part: Path,
    response: requests.Response,
    offset: int,
    max_bytes: int,
    progress: ProgressFn | None,
    should_cancel: CancelFn | None,
    chunk_size: int,
    timeout: float,
) -> bool:
    """Handle one HTTP answer. Returns True when the ``.part`` must be dropped and the
    download started again from zero; False when ``part`` now holds the complete file."""
    status = response.status_code
    if status == 416 and offset:
        total = _content_range_total(response.headers.get("Content-Range", ""))
        return total != offset  # equal sizes: the .part already is the whole file
    if status == 206 and offset:
        start, total = _content_range(response.headers.get("Content-Range", ""))
        if start != offset:
            return True
        mode = "ab"
    elif status == 200:
        offset, mode = 0, "wb"  # no range support (or no .part): from zero
        total = _int_or_none(response.headers.get("Content-Length"))
    else:
        reason = f" {response.reason}" if response.reason else ""
        raise DownloadError(f"could not download {url}: the server answered {status}{reason}", url=url, status=status)

    if total is not None and total > max_bytes:
        _remove(part)
        raise DownloadError(
            f"refused to download {url}: it is {_human_size(total)}, over the {_human_size(max_bytes)} limit",
            url=url,
        )

    done = offset
    if progress is not None:
        progress(done, total)
    try:
        with open(part, mode) as out:
            for chunk in response.iter_content(chunk_size):
                if not chunk:
                    continue
                if done == 0 and _looks_like_html(chunk[:_SNIFF_BYTES]):
                    out.close()
                    _remove(part)
                    raise DownloadError(_web_page_message(url), url=url)
                if done + len(chunk) > max_bytes:
                    out.close()
                    _remove(part)
                    raise DownloadError(
                        f"stopped downloading {url}: it grew past the {_human_size(max_bytes)} limit", url=url
                    )
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
                if should_cancel is not None and should_cancel():
                    raise DownloadCancelled(
                        f"download of {url} cancelled after {_human_size(done)}; run it again to resume",
                        url=url,
                        part_path=part,
                    )
            out.flush()
            os.fsync(out.fileno())
    except requests.RequestException as exc:
        of_total = f" of {_human_size(total)}" if total is not None else ""
        raise DownloadError(
            f"the download of {url} was interrupted after {_human_size(done)}{of_total} "
            f"({_request_failure_reason(exc, timeout)}); run it again to resume",
            url=url,
        ) from None
    except OSError as exc:
        raise DownloadError(f"could not save {url} to '{part}': {exc.strerror or exc}", url=url) from None

    if total is not None and done < total:
        raise DownloadError(
            f"the download of {url} stopped after {_human_size(done)} of {_human_size(total)}; run it again to resume",
            url=url,
        )
    if total is not None and done > total:
        _remove(part)
        raise DownloadError(f"could not download {url}: the server sent more data than it announced", url=url)
    return False


def _verify(url: str, part: Path, expected_sha256: str | None) -> None:
    """Check the finished ``.part``: checksum (when known), then that it is a network file.
    A file that fails is deleted."""
    if expected_sha256 is not None:
        got = file_sha256(part)
        if got != expected_sha256:
            _remove(part)
            raise DownloadError(
                f"the file downloaded from {url} does not match its checksum "
                f"(expected sha256 {expected_sha256[:12]}..., got {got[:12]}...); it was deleted",
                url=url,
            )
    with open(part, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    if _looks_like_html(head):
        _remove(part)
        raise DownloadError(_web_page_message(url), url=url)
    from studio.gan.formats import detect_format  # imports torch: only when needed

    try:
        detect_format(part)
    except ModelFormatError:
        _remove(part)
        raise DownloadError(
            f"the file downloaded from {url} is not a network the studio can read "
            "(expected an NVIDIA .pkl, a rosinality .pt or a studio .safetensors); it was deleted",
            url=url,
        ) from None


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


def _request_failure_reason(exc: requests.RequestException, timeout: float) -> str:
    """A few words for what went wrong with a request."""
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, requests.exceptions.SSLError):
        return "the secure connection failed"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
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


def _remove(path: Path) -> None:
    """Delete ``path`` if it exists."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


