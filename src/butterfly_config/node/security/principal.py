"""Who is calling: the result of every authentication method."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

AuthMethod = Literal["jwt", "api_key", "mtls", "none"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a subject name, its roles and how it proved itself.

    `roles` is what the credential claims; `rbac.Policy.allows` decides what
    those roles may do. The audit log records `subject` and `method`.
    """

    subject: str
    roles: frozenset[str] = field(default_factory=frozenset)
    method: AuthMethod = "none"
