"""Telling a member's `public_key` text apart: base64 key bytes or a PEM file path.

Base64 uses "/" too, so a key may start with it: a value that decodes strictly
to the length of a raw ed25519 or P-256 key, or to DER, is a key whatever it
starts with; other values starting like a path, or ending in a key-file
suffix, are paths.
"""

from __future__ import annotations

import base64
import binascii

PATH_PREFIXES = ("/", "./", "../", "~")
PATH_SUFFIXES = (".pem", ".pub", ".crt", ".key")
RAW_KEY_LENGTHS = (32, 33, 65)  # ed25519, compressed and uncompressed P-256 points
DER_SEQUENCE = 0x30


def shaped_like_path(value: str) -> bool:
    """A path by its shape (prefix or key-file suffix) that is not base64 key bytes.

    Other values may still name a file, but only once reading them as base64 fails.
    """
    text = value.strip()
    return text.endswith(PATH_SUFFIXES) or (
        text.startswith(PATH_PREFIXES) and public_key_is_path(text))


def public_key_is_path(value: str) -> bool:
    """Whether `value` names a PEM file rather than holding base64 key bytes."""
    text = value.strip()
    if text.endswith(PATH_SUFFIXES):
        return True
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return True
    if len(raw) in RAW_KEY_LENGTHS or (len(raw) > 40 and raw[0] == DER_SEQUENCE):
        return False
    return text.startswith(PATH_PREFIXES) or not raw
