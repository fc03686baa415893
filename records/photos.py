"""Photos and attachments kept with records: checked to be what they claim, bounded, stored once by SHA-256.

The plain rules:
- a photo must be a JPEG, PNG or WebP that Pillow can open and verify; its size is bounded in bytes and in pixels
  (a tiny file can claim a huge image);
- an attachment (a laboratory's report) must be a PDF (it starts with ``%PDF-``) and is bounded in bytes;
- a file is stored as ``records/files/ab/abcdef….ext`` under the data directory, named by its SHA-256, written to
  a temporary file, synced and renamed, so a crash leaves either the whole file or none; the same bytes twice are
  stored once;
- a file belongs to the site it was uploaded for (``records.db`` keeps which), is served only to a token that
  may see a record referencing it, and one no record references is swept after ``[records] upload_grace_h``.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from campus.db import private_dir
from campus.errors import MeterwatchError, NotFound

IMAGE_TYPES = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
PDF = ("application/pdf", "pdf")
_SHA = re.compile(r"[0-9a-f]{64}")


class FileRejected(MeterwatchError):
    """An upload that is not what it must be (not an image, too large): answered 422 with what to do."""


@dataclass(frozen=True, slots=True)
class Upload:
    """A file checked to be what it claims, not kept yet: a record is checked first, and its files are kept only
    when it is taken (a refused record leaves nothing behind)."""

    data: bytes
    ext: str
    media_type: str
    width: int | None = None
    height: int | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


def check_image(data: bytes, name: str, max_bytes: int, max_pixels: int) -> tuple[str, str, int, int]:
    """(media type, extension, width, height) of a photo, or FileRejected saying why."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > max_bytes:
        raise FileRejected(f"photo {name!r} is {_mib(len(data))}; the limit is {_mib(max_bytes)} (send it smaller: "
                           "phones can share a photo at reduced size)")
    if not data:
        raise FileRejected(f"photo {name!r} is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt, (w, h) = img.format, img.size
                if w * h > max_pixels:
                    raise FileRejected(f"photo {name!r} is {w}×{h} pixels; the limit is {max_pixels:,} pixels")
                img.verify()
    except FileRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise FileRejected(f"{name!r} is not a photo meterwatch can read (JPEG, PNG or WebP): {exc}") from exc
    if fmt not in IMAGE_TYPES:
        raise FileRejected(f"{name!r} is a {fmt} image; send a JPEG, PNG or WebP photo")
    media, ext = IMAGE_TYPES[fmt]
    return media, ext, w, h


def photo(data: bytes, name: str, max_bytes: int, max_pixels: int) -> Upload:
    media, ext, w, h = check_image(data, name, max_bytes, max_pixels)
    return Upload(data, ext, media, w, h)


def attachment(data: bytes, name: str, max_bytes: int) -> Upload:
    check_pdf(data, name, max_bytes)
    return Upload(data, "pdf", PDF[0])


def check_pdf(data: bytes, name: str, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise FileRejected(f"attachment {name!r} is {_mib(len(data))}; the limit is {_mib(max_bytes)}")
    if not data.startswith(b"%PDF-"):
        raise FileRejected(f"attachment {name!r} is not a PDF (it must start with %PDF-): attach the laboratory's "
                           "report as a PDF")


class FileShelf:
    """Files kept by SHA-256 under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = private_dir(root)

    def _path(self, sha: str, ext: str) -> Path:
        return self.root / sha[:2] / f"{sha}.{ext}"

    def keep(self, data: bytes, ext: str) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = self._path(sha, ext)
        if path.exists():
            os.utime(path)  # kept again now: the sweep counts its grace from here
            return sha
        private_dir(path.parent)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return sha

    def read(self, sha: str) -> tuple[bytes, str]:
        """(bytes, extension) of a kept file; NotFound for anything else (never a path outside the shelf)."""
        if not _SHA.fullmatch(sha):
            raise NotFound(f"no file {sha[:80]!r}: name a file by its SHA-256 (64 hex digits)")
        folder = self.root / sha[:2]
        for ext in ("jpg", "png", "webp", "pdf"):
            path = folder / f"{sha}.{ext}"
            if path.is_file():
                return path.read_bytes(), ext
        raise NotFound(f"no file {sha}")

    def kept(self) -> Iterator[tuple[str, Path]]:
        """(SHA-256, path) of every file on the shelf."""
        for folder in self.root.iterdir():
            if folder.is_dir() and len(folder.name) == 2:
                for path in folder.iterdir():
                    if _SHA.fullmatch(path.stem) and path.suffix[1:] in MEDIA:
                        yield path.stem, path

    def remove(self, sha: str) -> int:
        """Remove a kept file (every extension); how many bytes that freed."""
        freed = 0
        for ext in MEDIA:
            path = self._path(sha, ext)
            try:
                freed += path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                continue
        return freed

    def has(self, sha: str) -> bool:
        try:
            self.read(sha)
        except NotFound:
            return False
        return True


MEDIA = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "pdf": "application/pdf"}
