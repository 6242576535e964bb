"""Byzantine-fault-tolerant agreement on cluster configuration changes.

A pure state machine (no I/O, no clock, no threads): `replica.Replica` takes
messages, time and proposals and hands out `state.Ready` batches. Messages
and their signing live in `messages`, `encoding` and `crypto`; certificate
checks in `certificates`; the ballot selection rule in `selection`. The
deterministic simulator is `consensus.sim`. See docs/consensus.md.
"""
