"""Helpers for the history tests: documents, their hashes and committed entries."""

from __future__ import annotations

from blake3 import blake3

from butterfly_config.history import Change, HistoryStore, RevisionEntry


def doc_hash(document: bytes) -> str:
    return str(blake3(document).hexdigest())


def document(n: int, version: str | None = None) -> bytes:
    tag = version if version is not None else f"1.0.{n}"
    return f'{{"metadata":{{"config_version":"{tag}"}},"scheduling":{{"n":{n}}}}}'.encode()


def commit(
    store: HistoryStore,
    n: int,
    *,
    version: str | None = None,
    body: bytes | None = None,
    certificate: bytes | None = b"cert",
) -> RevisionEntry:
    """Append the next revision whose content is `document(n)` (or `body`)."""
    doc = body if body is not None else document(n, version)
    entry = store.make_entry(
        document=doc,
        doc_hash=doc_hash(doc),
        proposer="node1",
        initiator="alice",
        action="update",
        changes=(Change("scheduling.n", n - 1, n),),
        certificate=certificate,
        config_version=version if version is not None else f"1.0.{n}",
    )
    store.append_revision(entry)
    return entry
