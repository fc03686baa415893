"""The 导则's authentication and encryption: MD5 of the centre's random sequence followed by the shared key,
and AES with a 128-bit key over the XML packets.

The 导则 says AES-128 and MD5 and where each is used; it does not say the block mode, the padding or the IV.
Provincial documents differ (宁波 2018甬DX-05 附录E: CBC, zero padding, an agreed IV), so these are settings
(``aes_mode``, ``aes_padding``, ``aes_iv``); the defaults are CBC, PKCS#7 and a zero IV.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from campus.errors import ConfigError

BLOCK = 16


class CryptoError(ValueError):
    """Ciphertext that does not decrypt with the key: wrong key, mode or padding."""


def md5_answer(sequence: str, key: str) -> str:
    """What the gateway answers to ``sequence``: MD5 of the sequence then the key (UTF-8), 32 lowercase hex digits."""
    return hashlib.md5((sequence + key).encode("utf-8"), usedforsecurity=False).hexdigest()


def key_bytes(text: str, what: str) -> bytes:
    """16 bytes from 16 characters (UTF-8) or 32 hex digits; ConfigError otherwise."""
    raw = text.encode("utf-8")
    if len(raw) == BLOCK:
        return raw
    if len(text) == 2 * BLOCK:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    raise ConfigError(f"{what} must be 16 characters or 32 hex digits (AES-128), not {len(raw)} bytes")


class Aes:
    def __init__(self, key: bytes, mode: str = "cbc", pad: str = "pkcs7", iv: bytes = bytes(BLOCK)) -> None:
        if len(key) != BLOCK or len(iv) != BLOCK:
            raise ConfigError("AES-128 takes a 16-byte key and a 16-byte IV")
        self.key, self.mode, self.pad, self.iv = key, mode, pad, iv

    def _cipher(self) -> Cipher[modes.CBC | modes.ECB]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.iv) if self.mode == "cbc" else modes.ECB())  # noqa: S305

    def encrypt(self, data: bytes) -> bytes:
        if self.pad == "pkcs7":
            p = padding.PKCS7(128).padder()
            data = p.update(data) + p.finalize()
        else:
            data += bytes(-len(data) % BLOCK)
        e = self._cipher().encryptor()
        return e.update(data) + e.finalize()

    def decrypt(self, data: bytes) -> bytes:
        if not data or len(data) % BLOCK:
            raise CryptoError(f"ciphertext of {len(data)} bytes is not whole AES blocks")
        d = self._cipher().decryptor()
        plain = d.update(data) + d.finalize()
        if self.pad == "zeros":
            return plain.rstrip(b"\0")
        try:
            u = padding.PKCS7(128).unpadder()
            return u.update(plain) + u.finalize()
        except ValueError:
            raise CryptoError("AES padding is wrong: not the same key, mode or padding") from None
