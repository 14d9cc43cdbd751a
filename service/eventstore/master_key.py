"""Envelope encryption: the keys kept in the database are wrapped with a master key.

Subject keys (which open the personal data in the log) and webhook signing secrets are
stored wrapped with AES-256-GCM under a master key that lives outside the database
(MODERATION_MASTER_KEY, or a key file), so a dump or a stolen backup alone opens nothing.

Several master keys may be configured: the first wraps, every one unwraps. A wrapped value
names the master key that wrapped it (the first 8 bytes of its SHA-256), so rotating is:
configure `NEW,OLD` everywhere, run `moderation keys rotate-master` (rewraps row by row in
small transactions while the service runs), then drop OLD. A key file is re-read whenever
it changes, so processes sharing it follow a rotation without a restart.

Without any master key, values are stored as they are (and read either way), which is what
an installation had before; `rotate-master` wraps them once a key is configured.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = b"\x01"  # the first byte of a wrapped value
TEXT_PREFIX = "mk1:"  # a wrapped text value (webhook secrets)
AAD = b"moderation master-wrapped key"
KEY_FILE_SUFFIX = ".master-key"


class MasterKeyError(Exception):
    """A wrapped value names a master key this process does not have, or is damaged."""


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:8]


def parse_keys(text: str) -> list[bytes]:
    """Master keys as base64 of 32 bytes, separated by commas or newlines, first = current."""
    keys = []
    for part in text.replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            key = base64.b64decode(part, validate=True)
        except ValueError:
            raise MasterKeyError("a master key is not valid base64") from None
        if len(key) != 32:
            raise MasterKeyError("a master key must be 32 bytes (base64 of 32 random bytes)")
        keys.append(key)
    return keys


def new_key_text() -> str:
    return base64.b64encode(AESGCM.generate_key(256)).decode()


@dataclass
class MasterKeys:
    keys: list[bytes]
    path: Path | None = None  # a key file, re-read whenever it changes

    def __post_init__(self) -> None:
        self._stamp = self._file_stamp()

    def _file_stamp(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    def refresh(self) -> None:
        """Follow a rotation written to the key file: its keys first (the first wraps),
        keys read before kept after them (values they wrapped may not be rewrapped yet)."""
        stamp = self._file_stamp()
        if stamp is None or stamp == self._stamp:
            return
        fresh = parse_keys(self.path.read_text())  # type: ignore[union-attr]
        self.keys = fresh + [k for k in self.keys if k not in fresh]
        self._stamp = stamp

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    @property
    def current_id(self) -> bytes | None:
        return key_id(self.keys[0]) if self.keys else None

    def wrap(self, raw: bytes) -> bytes:
        self.refresh()
        if not self.keys:
            return raw
        nonce = os.urandom(12)
        return FORMAT + key_id(self.keys[0]) + nonce + AESGCM(self.keys[0]).encrypt(
            nonce, raw, AAD)

    def unwrap(self, stored: bytes) -> bytes:
        stored = bytes(stored)
        if not is_wrapped(stored):
            return stored  # written before any master key was configured
        wanted, nonce, sealed = stored[1:9], stored[9:21], stored[21:]
        key = self._find(wanted)
        try:
            return AESGCM(key).decrypt(nonce, sealed, AAD)
        except Exception as exc:  # noqa: BLE001 - InvalidTag: damaged or a wrong key
            raise MasterKeyError("a wrapped key does not open under its master key") from exc

    def wrapped_by_current(self, stored: bytes) -> bool:
        self.refresh()
        return self.enabled and is_wrapped(bytes(stored)) and \
            bytes(stored)[1:9] == self.current_id

    def wrap_text(self, value: str) -> str:
        if not self.keys:
            return value
        return TEXT_PREFIX + base64.b64encode(self.wrap(value.encode())).decode()

    def unwrap_text(self, stored: str) -> str:
        if not stored.startswith(TEXT_PREFIX):
            return stored
        return self.unwrap(base64.b64decode(stored[len(TEXT_PREFIX):])).decode()

    def text_wrapped_by_current(self, stored: str) -> bool:
        return stored.startswith(TEXT_PREFIX) and self.wrapped_by_current(
            base64.b64decode(stored[len(TEXT_PREFIX):]))

    def _find(self, wanted: bytes) -> bytes:
        for attempt in (1, 2):
            for key in self.keys:
                if key_id(key) == wanted:
                    return key
            if attempt == 1:
                self.refresh()
        raise MasterKeyError(
            f"no configured master key has id {wanted.hex()}: add it to MODERATION_MASTER_KEY")


NO_MASTER = MasterKeys([])


def is_wrapped(stored: bytes) -> bool:
    return len(stored) > 21 and stored[:1] == FORMAT and len(stored) != 32


def demo_key_path(database_url: str) -> Path | None:
    """Where a SQLite installation keeps its master key file: beside the database."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        return None
    database = database_url[len(prefix):].split("?", 1)[0]
    if database in ("", ":memory:"):
        return None
    return Path(database + KEY_FILE_SUFFIX)


def load_master_keys(configured: str, key_file: str, database_url: str) -> MasterKeys:
    """MODERATION_MASTER_KEY, else the key file (MODERATION_MASTER_KEY_FILE, or the one
    beside a SQLite database), else none."""
    if configured.strip():
        return MasterKeys(parse_keys(configured))
    path = Path(key_file) if key_file else demo_key_path(database_url)
    if path is None or not path.is_file():
        return MasterKeys([])
    return MasterKeys(parse_keys(path.read_text()), path=path)


def ensure_key_file(path: Path) -> bool:
    """Create a key file with a new master key, readable by its owner only (False if one
    is there already)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as out:
        out.write(new_key_text() + "\n")
    return True


def rotate_key_file(path: Path) -> None:
    """Put a new master key first in the file, keeping the old ones (to unwrap) for now."""
    old = path.read_text().strip()
    replace_file(path, new_key_text() + "\n" + old + "\n")


def keep_only_current(path: Path) -> None:
    first = next(iter(_lines(path.read_text())))
    replace_file(path, first + "\n")


def replace_file(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


def _lines(text: str) -> Iterator[str]:
    for part in text.replace("\n", ",").split(","):
        if part.strip():
            yield part.strip()
