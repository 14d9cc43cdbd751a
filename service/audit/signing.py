"""Ed25519 keys and the checkpoint statement they sign.

A checkpoint says "the log's event at POSITION has hash HASH", signed at a moment. The bytes
signed are this UTF-8 text (one field a line, each line ending in a newline):

    moderation-audit-checkpoint/v1
    position <decimal>
    hash <64 lowercase hex digits>
    signed_at <ISO-8601 UTC with microseconds, e.g. 2026-12-03T09:00:00.000000+00:00>

Keys travel as base64 of their 32 raw bytes (the private key's seed, the public key); a key
id is the first 16 hex digits of SHA-256 over the raw public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

FORMAT = "moderation-audit-checkpoint/v1"
DEMO_KEY_SUFFIX = ".signing-key"


class SigningKeyError(ValueError):
    """A signing or public key that cannot be used."""


def _b64decode(text: str, what: str) -> bytes:
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise SigningKeyError(f"{what} is not base64") from None
    if len(raw) != 32:
        raise SigningKeyError(f"{what} must be 32 bytes (base64 of 43-44 characters), "
                        f"got {len(raw)}")
    return raw


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    private: Ed25519PrivateKey
    public_raw: bytes

    @classmethod
    def from_text(cls, text: str) -> Signer:
        """From base64 of the 32-byte seed, or a PEM (PKCS#8) Ed25519 private key."""
        if text.lstrip().startswith("-----BEGIN"):
            try:
                key = serialization.load_pem_private_key(text.encode(), password=None)
            except ValueError as exc:
                raise SigningKeyError(f"the PEM signing key cannot be read: {exc}") from None
            if not isinstance(key, Ed25519PrivateKey):
                raise SigningKeyError("the PEM signing key is not an Ed25519 key")
        else:
            key = Ed25519PrivateKey.from_private_bytes(_b64decode(text, "the signing key"))
        return cls(key, key.public_key().public_bytes(serialization.Encoding.Raw,
                                                      serialization.PublicFormat.Raw))

    @classmethod
    def generate(cls) -> Signer:
        key = Ed25519PrivateKey.generate()
        return cls(key, key.public_key().public_bytes(serialization.Encoding.Raw,
                                                      serialization.PublicFormat.Raw))

    def private_text(self) -> str:
        return b64(self.private.private_bytes(serialization.Encoding.Raw,
                                              serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption()))

    @property
    def public_key(self) -> str:
        return b64(self.public_raw)

    @property
    def key_id(self) -> str:
        return key_id(self.public_raw)

    def sign(self, message: bytes) -> str:
        return b64(self.private.sign(message))


def statement(position: int, head_hash: str, signed_at: datetime) -> bytes:
    """The exact bytes a checkpoint's signature covers."""
    return (f"{FORMAT}\nposition {int(position)}\nhash {head_hash}\n"
            f"signed_at {signed_at.astimezone(UTC).isoformat(timespec='microseconds')}\n"
            ).encode()


def verify_signature(public_key: str, message: bytes, signature: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(_b64decode(public_key, "the public key"))
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def verify_checkpoint(public_key: str, checkpoint: dict[str, Any]) -> bool:
    """True when CHECKPOINT (head_position, head_hash, signed_at, signature) was signed by
    the holder of PUBLIC_KEY. `signed_at` may be a datetime or ISO-8601 text."""
    try:
        signed_at = checkpoint["signed_at"]
        if isinstance(signed_at, str):
            signed_at = datetime.fromisoformat(signed_at.replace("Z", "+00:00"))
        message = statement(checkpoint["head_position"], checkpoint["head_hash"], signed_at)
        return verify_signature(public_key, message, checkpoint["signature"])
    except (KeyError, TypeError, ValueError):
        return False


def demo_key_path(database_url: str) -> Path | None:
    """Where the demo keeps its signing key: beside its SQLite file (None for others)."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        return None
    database = database_url[len(prefix):].split("?", 1)[0]
    if database in ("", ":memory:"):
        return None
    return Path(database + DEMO_KEY_SUFFIX)


def load_signer(signing_key: str, database_url: str) -> Signer | None:
    """The configured key (MODERATION_SIGNING_KEY), else the demo's key file, else None."""
    if signing_key:
        return Signer.from_text(signing_key)
    path = demo_key_path(database_url)
    if path is not None and path.is_file():
        return Signer.from_text(path.read_text())
    return None


def ensure_demo_key(database_url: str) -> Path | None:
    """Write a new key file beside a SQLite database unless one is there (mode 0600)."""
    path = demo_key_path(database_url)
    if path is None or path.exists():
        return path
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(Signer.generate().private_text() + "\n")
    return path
