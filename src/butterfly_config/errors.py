"""Error and issue types shared by every layer.

An operator-facing problem is a `ConfigIssue` (path, message, hint, rule,
severity, optional file:line). Exceptions carry every issue found, never only
the first, and map to the CLI's exit codes (1 refused, 2 usage/I-O/connection).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem with a configuration, as an operator reads it."""

    path: str
    message: str
    hint: str = ""
    rule: str = ""
    severity: Severity = "error"
    file: str | None = None
    line: int | None = None
    column: int | None = None

    @property
    def location(self) -> str:
        """`file:line:col` where known, else the empty string."""
        if self.file is None:
            return ""
        loc = self.file
        if self.line is not None:
            loc += f":{self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        return loc

    def render(self) -> str:
        """One readable line (plus hint) for terminals and logs."""
        head = f"{self.location}: " if self.location else ""
        where = f"{self.path}: " if self.path else ""
        text = f"{head}{self.severity}: {where}{self.message}"
        if self.rule:
            text += f" [{self.rule}]"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
            "rule": self.rule,
            "severity": self.severity,
        }
        if self.file is not None or self.line is not None:  # a body has lines, not a file
            out["file"] = self.file
            out["line"] = self.line
            out["column"] = self.column
        return out


class ButterflyError(Exception):
    """Base of every error the library raises on purpose. `exit_code` is the CLI's."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        return self.message + (f"\n  hint: {self.hint}" if self.hint else "")


class ConfigError(ButterflyError):
    """A configuration was refused; `.errors` lists every issue (errors and warnings)."""

    exit_code = 1

    def __init__(
        self, message: str, errors: list[ConfigIssue] | None = None, *, hint: str = ""
    ) -> None:
        super().__init__(message, hint=hint)
        self.errors: list[ConfigIssue] = list(errors or [])

    def render(self) -> str:
        if not self.errors:
            return super().render()
        return "\n".join(issue.render() for issue in self.errors)


class ConfigSyntaxError(ConfigError):
    """A file is not valid TOML (or an env/override value does not parse)."""


class IncludeCycleError(ConfigError):
    """Files include each other in a loop; the message names the cycle."""


class ValidationFailed(ConfigError):
    """The merged configuration breaks one or more rules."""


class StaticChangeError(ConfigError):
    """A runtime change touched static options: those need a restart."""


class UsageError(ButterflyError):
    """The command line or an API call was malformed."""

    exit_code = 2


class ConfigIOError(ButterflyError):
    """A file could not be read or written (missing, unreadable, not a file)."""

    exit_code = 2


class ConnectionFailed(ButterflyError):
    """A node could not be reached."""

    exit_code = 2


@dataclass
class IssueList:
    """Collects issues from many checks and raises once at the end."""

    issues: list[ConfigIssue] = field(default_factory=list)

    def add(self, issue: ConfigIssue) -> None:
        self.issues.append(issue)

    @property
    def errors(self) -> list[ConfigIssue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[ConfigIssue]:
        return [i for i in self.issues if i.severity == "warning"]
