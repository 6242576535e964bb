"""Start-up recovery of the history store, and what an edited file may not do to it.

The store is what recovery trusts, not the node's file (DESIGN 1.5, 1.6):
revision 0 is checked as a well-formed boot entry of its own document, and
later revisions against their commit certificates under the membership that
revision 0 commits to. So an operator's edit of the file never looks like
damage, and never deletes a committed revision; what the edit changes is a
configuration problem, reported as one (`static_conflicts`).

Real damage (a broken chain, a certificate that does not verify) cuts the
damaged tail and peers supply it again, but only when the persisted consensus
state does not reach into that tail: the replica needs its record of votes to
stay safe, so otherwise the node refuses to start and deletes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from butterfly_config.canonical import digest
from butterfly_config.config import ButterflyConfig
from butterfly_config.consensus.certificates import Verifier
from butterfly_config.consensus.encoding import DecodeError, decode
from butterfly_config.consensus.messages import (
    GENESIS_PARENT,
    CommitCertificate,
    Decided,
    Entry,
    make_entry,
)
from butterfly_config.consensus.state import HardState
from butterfly_config.errors import ConfigError, ConfigIssue
from butterfly_config.history import ChainReport, HistoryStore, RevisionEntry
from butterfly_config.history.errors import HistoryCorrupt
from butterfly_config.node import document_reading, documents
from butterfly_config.node.reload import describe, values_differing

log = logging.getLogger("butterfly.node")

GENESIS_REQUEST = "genesis"
CLUSTER_NAME = "metadata.cluster_name"


def genesis_entry(cluster: str, document: bytes) -> Entry:
    """Revision 0: the same bytes on every member that boots with the same cluster options."""
    return make_entry(digest, cluster, 0, GENESIS_PARENT, document, GENESIS_REQUEST, "", "")


def to_decided(entry: RevisionEntry) -> Decided:
    """A stored revision as the replica takes it (its certificate decoded)."""
    certificate = None
    if entry.certificate is not None:
        certificate = decode(entry.certificate, CommitCertificate)
    return Decided(
        Entry(entry.revision, entry.parent_digest, entry.doc_hash, entry.request_id,
              entry.proposer, entry.initiator, entry.document, entry.entry_digest),
        certificate,
    )


def rebuild_hint(store: HistoryStore) -> str:
    """How an operator gets a node with an unusable store going again, nothing lost."""
    return (f"nothing was deleted. Restore {store.path.parent} from a backup, or rebuild "
            f"this node from its peers: stop it, move {store.path.parent} aside (keep it "
            "for inspection) and start it again; it fetches the committed revisions")


# -- the store's own cluster ------------------------------------------------------------
def check_store_cluster(store: HistoryStore, cluster: str) -> None:
    """Refuse a store kept for another cluster name before anything is verified.

    The name is part of every entry digest: checked under the file's new name, a
    sound store would look damaged from revision 0 on and be cut to nothing.
    """
    first = store.get_revision(0)
    if first is None:
        return
    try:
        stored = document_reading.value_of(first.document, CLUSTER_NAME)
    except ValueError:
        return  # an unreadable revision 0 is damage: the chain check finds it
    if stored is None or stored == cluster:
        return
    raise ConfigError(
        f"{store.path}: the history store belongs to cluster {stored!r}",
        [ConfigIssue(
            CLUSTER_NAME,
            f"the history store {store.path} holds the committed history of cluster "
            f"{stored!r}, but this node's file names the cluster {cluster!r}; "
            "the node does not start and the store is left as it is",
            hint=f"put {CLUSTER_NAME} = {stored!r} back in the file; a cluster keeps its "
                 "name for as long as it keeps its history (docs/operations.md, "
                 "\"A static option differs from the committed configuration\")",
            rule="committed-static",
        )],
    )


# -- verifying and cutting ---------------------------------------------------------------
def is_genesis(entry: RevisionEntry, cluster: str) -> bool:
    """Whether a stored revision 0 is a well-formed boot entry of this cluster.

    Checked against its own document, not the file's: the file may have been
    edited since, and that is no damage to the store.
    """
    return entry.entry_digest == genesis_entry(cluster, entry.document).digest


def certificate_check(verifier: Verifier, cluster: str) -> Callable[[RevisionEntry], bool]:
    """`verify_chain`'s certificate callback: revision 0 by its form, the rest by quorum."""

    def check(entry: RevisionEntry) -> bool:
        if entry.revision == 0:
            return is_genesis(entry, cluster)
        try:
            return verifier.decided_problem(to_decided(entry)) is None
        except (DecodeError, ValueError):
            return False

    return check


def cut_damaged_tail(store: HistoryStore, report: ChainReport,
                     hard_state: HardState | None) -> None:
    """Remove the revisions from the first damaged one on, if that is safe.

    The consensus state names the last revision committed here; below it the
    replica cannot start (it could vote twice), so the node refuses instead
    and the store stays untouched for a backup or an inspection.
    """
    bad = report.first_bad_revision or 0
    if hard_state is not None and hard_state.head_revision >= bad:
        raise HistoryCorrupt(
            f"{store.path}: the history store is damaged at revision {bad} "
            f"({report.reason}), and this node's consensus state says revision "
            f"{hard_state.head_revision} was committed here: dropping the damaged "
            "revisions would lose the record of its votes",
            hint=rebuild_hint(store),
        )
    log.error("history store damaged at revision %s (%s): keeping revisions below it and "
              "catching up from peers", bad, report.reason)
    store.truncate_after(bad - 1)


def recover_history(
    store: HistoryStore, verifier: Verifier, file_genesis: Entry,
    hard_state: HardState | None,
) -> tuple[Entry, Iterable[Decided]]:
    """Revision 0 of the verified committed history, and that history to read once.

    A damaged tail is cut off (peers supply it again). An empty store starts
    from the file's revision 0. The history is read from the store as the
    replica takes it, not held in a list: it may be long.
    """
    cluster = verifier.params.cluster_name
    report = store.verify_chain(verify_certificate=certificate_check(verifier, cluster),
                                hash_document=digest)
    if not report.ok:
        cut_damaged_tail(store, report, hard_state)
    first = store.get_revision(0)
    if first is None:
        log.info("the history store %s holds no revisions (a new node, or its store was "
                 "removed): starting from revision 0 of this node's file; committed revisions "
                 "are fetched from peers", store.path)
        # revision 0 carries its config_version like every later one, so a rollback
        # can name it by that too
        version = document_reading.value_of(file_genesis.document, "metadata.config_version")
        entry = store.make_entry(document=file_genesis.document, doc_hash=file_genesis.doc_hash,
                                 proposer="", initiator="", action="update",
                                 config_version=None if version is None else str(version),
                                 request_id=GENESIS_REQUEST)
        store.append_revision(entry)
        return file_genesis, [Decided(file_genesis, None)]
    stored = to_decided(first).entry
    if stored.digest != file_genesis.digest:
        log.warning("this node's file has cluster options that differ from its stored "
                    "revision 0; the committed history wins")
    return stored, (to_decided(e) for e in store.iter_revisions(0))


# -- the file against the committed configuration ---------------------------------------
def static_conflicts(file: ButterflyConfig,
                     running: ButterflyConfig) -> dict[str, tuple[Any, Any]]:
    """{static cluster option: (committed value, file value)} where the two differ.

    Committed revisions win over the file, and a static option cannot change
    at runtime, so such a file value is never applied: the node says so
    instead of running on something its operator did not write.
    """
    return values_differing(sorted(documents.static_cluster_paths()), running, file)


def conflict_problem(conflicts: Mapping[str, tuple[Any, Any]], revision: int) -> str:
    """The not-ready reason for `conflicts`, with what to do about it."""
    return (f"this node's file sets static options that differ from the committed "
            f"configuration (revision {revision}): {describe(conflicts)}; the committed "
            "history is kept and wins. Put the file's values back (the node becomes ready "
            "once the file agrees), or change them for the whole cluster as "
            "docs/operations.md says (\"A static option differs from the committed "
            "configuration\")")
