"""The history hash chain: how one revision's entry digest is computed.

    entry_digest(revision, doc_hash, parent_digest)
        = BLAKE3-256, lowercase hex, of the UTF-8 bytes of
          {"doc_hash":"<doc_hash>","parent_digest":"<parent_digest>","revision":<revision>}

That is canonical JSON: keys sorted, no whitespace, `revision` as a plain
decimal integer (no sign, no leading zeros, no exponent), both hashes as
lowercase hex strings (so no character needs escaping). Example:
revision 0, doc_hash "ab", parent "00..00" (64 zeros) hashes the bytes
`{"doc_hash":"ab","parent_digest":"0000…0000","revision":0}`.

Revision 0 (the configuration a cluster boots with) has parent digest
`GENESIS_PARENT` = 64 zeros; revision n > 0 has the entry digest of
revision n - 1 as its parent. Changing any revision's doc_hash, or removing
or reordering revisions, breaks every later link.
"""

from __future__ import annotations

import re

from blake3 import blake3

GENESIS_PARENT = "0" * 64
_HEX = re.compile(r"^[0-9a-f]*$")


def entry_digest(revision: int, doc_hash: str, parent_digest: str) -> str:
    """The digest that names a history entry and links it to its parent (see module doc)."""
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
        raise ValueError(f"revision must be a non-negative integer, not {revision!r}")
    if not doc_hash or not _HEX.fullmatch(doc_hash):
        raise ValueError(f"doc_hash must be lowercase hex, not {doc_hash!r}")
    if not _HEX.fullmatch(parent_digest):
        raise ValueError(f"parent_digest must be lowercase hex, not {parent_digest!r}")
    payload = f'{{"doc_hash":"{doc_hash}","parent_digest":"{parent_digest}","revision":{revision}}}'
    return str(blake3(payload.encode("utf-8")).hexdigest())
