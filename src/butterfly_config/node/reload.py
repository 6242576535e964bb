"""Hot reload: what an edited configuration file changes, and carrying it out (DESIGN 1.6).

The new file content is compared with the *previous file content*, not with
the running configuration: a file that lags behind revisions committed through
the API must not undo them, so only what the operator changed in the file
counts. The changes are sorted by category:
- dynamic-local: applied on this node at once, as file-level values (a restart
  with the same file gives the same result);
- dynamic-consensus: proposed to the cluster as one update, attributed to the
  file; a refusal or abort is logged once, not retried;
- static: reported as "restart required" (log and `cluster status`) and not
  applied; the report ends when the file agrees with the running value again.
Files that do not load change nothing and are reported once per content.

`plan_reload` is the decision, free of I/O; `HotReloader` reads the files,
loads them, and hands the plan to the `ConfigManager`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from butterfly_config import toml_text
from butterfly_config.config import ButterflyConfig, ConfigChange
from butterfly_config.errors import ButterflyError, ConfigError
from butterfly_config.node.manager import ConfigManager
from butterfly_config.node.service import Identity, UpdateRefused
from butterfly_config.node.watcher import ConfigFiles, FileWatcher, config_files
from butterfly_config.redact import redact_value

log = logging.getLogger("butterfly.reload")

SETTLE_S = 0.25
"""How long files that do not load are given to settle before that is reported (a save
caught half-way loads fine a moment later)."""
SETTLE_ROUNDS = 4
MAX_SHOWN = 8


# -- the decision ---------------------------------------------------------------------
@dataclass(frozen=True)
class ReloadPlan:
    """What one edit of the files asks for."""

    local: dict[str, Any] = field(default_factory=dict)
    cluster: dict[str, Any] = field(default_factory=dict)
    restart_required: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    changes: tuple[ConfigChange, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.changes

    def change(self, path: str) -> ConfigChange | None:
        return next((c for c in self.changes if c.path == path), None)


def _plain(value: Any) -> Any:
    """JSON-shaped value, so values from a model and from a dump compare equal."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return orjson.loads(orjson.dumps(value, default=str))


def plan_reload(
    previous: ButterflyConfig,
    new: ButterflyConfig,
    running: ButterflyConfig,
    pending: Mapping[str, tuple[Any, Any]] | None = None,
) -> ReloadPlan:
    """Sort what changed between two loads of the files.

    `running` is the node's effective configuration and `pending` the static
    options already reported: a static option stays "restart required" while
    the file's value differs from the running one, and stops once it agrees
    again (an edit reverted).
    """
    changes = tuple(previous.diff(new))
    local: dict[str, Any] = {}
    cluster: dict[str, Any] = {}
    static = set(pending or ())
    for change in changes:
        if change.category == "dynamic-local":
            local[change.path] = change.new
        elif change.category == "dynamic-consensus":
            cluster[change.path] = change.new
        else:
            static.add(change.path)
    return ReloadPlan(local, cluster, values_differing(sorted(static), running, new), changes)


def values_differing(paths: Iterable[str], running: ButterflyConfig,
                     new: ButterflyConfig) -> dict[str, tuple[Any, Any]]:
    """{path: (running value, new value)} for the `paths` whose values differ, compared
    as JSON so that a model and its dump compare equal."""
    found: dict[str, tuple[Any, Any]] = {}
    for path in paths:
        in_use, in_file = _plain(running.get_value(path)), _plain(new.get_value(path))
        if in_use != in_file:
            found[path] = (in_use, in_file)
    return found


def describe(values: Mapping[str, tuple[Any, Any]]) -> str:
    """`path (old -> new), ...` with secrets masked, for the log."""
    shown = [
        f"{path} ({_show(path, old)} -> {_show(path, new)})"
        for path, (old, new) in list(values.items())[:MAX_SHOWN]
    ]
    more = len(values) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _show(path: str, value: Any) -> str:
    value = redact_value(path, value)
    return "unset" if value is None else orjson.dumps(value, default=str).decode()


def load_problem(exc: ButterflyError) -> str:
    """The errors of a failed load, one per line (warnings left out)."""
    if isinstance(exc, ConfigError) and exc.errors:
        errors = [i for i in exc.errors if i.severity == "error"] or list(exc.errors)
        return "\n".join(i.render() for i in errors)
    return exc.render()


# -- carrying it out ------------------------------------------------------------------
@dataclass
class ReloadOutcome:
    """What one check did (for tests and the benchmark)."""

    files: tuple[str, ...]
    error: str = ""
    plan: ReloadPlan | None = None
    applied_local: tuple[str, ...] = ()
    committed: tuple[str, ...] = ()
    refused: str = ""


class HotReloader:
    """Watches a node's files and applies what each edit changes, one edit at a time."""

    def __init__(
        self,
        manager: ConfigManager,
        load: Callable[[], ButterflyConfig],
        config_paths: Sequence[str | os.PathLike[str]],
        initial: ButterflyConfig,
        *,
        env_files: Sequence[str | os.PathLike[str]] = (),
        settle_s: float = SETTLE_S,
        watcher: FileWatcher | None = None,
    ) -> None:
        self._manager = manager
        self._load = load
        self._paths = [os.fspath(p) for p in config_paths]
        # --env-file files: watched like the TOML files, read by `load` as KEY=VALUE
        self._env_files = [os.fspath(p) for p in env_files]
        self._view = initial
        self._settle_s = settle_s
        self._files: ConfigFiles | None = None
        self._seen = ""
        self._lock = asyncio.Lock()
        self.watcher = watcher or FileWatcher(self._on_change)

    @property
    def view(self) -> ButterflyConfig:
        """The configuration the files gave at the last successful load."""
        return self._view

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until `stop` is set; an edit made while the node started is picked up too."""
        self._files = config_files(self._paths, self._env_files)
        self.watcher.watch(self._files.names)
        watching = asyncio.create_task(self.watcher.run(stop), name="reload-watch")
        try:
            await self.check()
            await watching
        finally:
            if not watching.done():
                watching.cancel()

    async def _on_change(self, _paths: frozenset[str]) -> None:
        await self.check()

    async def check(self) -> ReloadOutcome | None:
        """Reload if the files' bytes changed since the last check; None when they did not."""
        async with self._lock:
            files = await self._settled_files()
            if files is None:
                return None
            changed = files.changed_since(self._files)
            self._files = files
            self.watcher.watch(files.names)
            self._seen = files.digest
            problem = self._empty_problem(files)
            new: ButterflyConfig | None = None
            if not problem:
                try:
                    new = await asyncio.to_thread(self._load)
                except ButterflyError as exc:
                    problem = load_problem(exc)
            if new is None:
                return self._report_failure(files, changed, problem)
            return await self._apply(files, changed, new)

    async def _settled_files(self) -> ConfigFiles | None:
        """The files' current bytes when they differ from the last check's, else None.

        Files that are missing, just emptied or not valid TOML get a moment to
        settle first, so a save caught half-way is not reported as an error.
        """
        files = await asyncio.to_thread(config_files, self._paths, self._env_files)
        for _ in range(SETTLE_ROUNDS):
            if files.digest == self._seen:
                return None
            if self._settled(files):
                return files
            await asyncio.sleep(self._settle_s)
            again = await asyncio.to_thread(config_files, self._paths, self._env_files)
            if again.digest == files.digest:
                return files
            files = again
        return None if files.digest == self._seen else files

    def _settled(self, files: ConfigFiles) -> bool:
        before = self._files
        had = dict(zip(before.names, before.contents, strict=True)) if before else {}
        for name, data in zip(files.names, files.contents, strict=True):
            if data is None or (data == b"" and had.get(name) != b""):
                return False
            if name in self._env_files:
                continue  # KEY=VALUE lines, not TOML
            try:
                toml_text.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, tomllib.TOMLDecodeError):
                return False
        return True

    def _empty_problem(self, files: ConfigFiles) -> str:
        """An emptied top-level file would mean "every option at its default": refused."""
        empty = [name for name in files.empty_files() if name in self._paths]
        return "\n".join(f"{name}: the file is empty (a save still in progress?); an empty "
                         "file would put every option back to its default" for name in empty)

    def _report_failure(
        self, files: ConfigFiles, changed: list[str], problem: str
    ) -> ReloadOutcome:
        where = ", ".join(changed or files.names[:1])
        message = (f"hot reload: {where} changed but the configuration does not load; "
                   f"nothing applied, the node keeps its current configuration:\n{problem}")
        log.error("%s", message)
        self._manager.reload_status.last_error = f"{where}: {problem}"
        self._manager.metrics_hook("validation_failure", 1)
        self._manager.audit(self._subject(changed, files), "reload", "invalid",
                            {"files": list(changed), "errors": problem.splitlines()[:20]})
        return ReloadOutcome(files.names, error=problem)

    @staticmethod
    def _subject(changed: list[str], files: ConfigFiles) -> str:
        return "file:" + ",".join(changed or files.names[:1])

    async def _apply(
        self, files: ConfigFiles, changed: list[str], new: ButterflyConfig
    ) -> ReloadOutcome:
        status = self._manager.reload_status
        if status.last_error:
            log.info("hot reload: the configuration files load again")
            status.last_error = ""
        before = dict(status.restart_required)
        plan = plan_reload(self._view, new, self._manager.config, before)
        self._view = new
        outcome = ReloadOutcome(files.names, plan=plan)
        where = ", ".join(changed or files.names[:1])
        status.restart_required = dict(plan.restart_required)
        fresh = {p: v for p, v in plan.restart_required.items() if before.get(p) != v}
        if fresh:
            log.warning("hot reload of %s: restart required, not applied (static options): %s",
                        where, describe(fresh))
        settled = sorted(set(before) - set(plan.restart_required))
        if settled:
            log.info("hot reload of %s: restart no longer required for %s (the file agrees "
                     "with the running value again)", where, ", ".join(settled))
        if plan.empty:
            return outcome
        identity = Identity(subject=self._subject(changed, files), method="file")
        if plan.local:
            self._apply_local(plan, identity, where, outcome)
        if plan.cluster:
            await self._propose(plan, identity, where, outcome)
        return outcome

    def _old_new(self, plan: ReloadPlan, values: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
        pairs: dict[str, tuple[Any, Any]] = {}
        for path in values:
            change = plan.change(path)
            if change is not None:
                pairs[path] = (change.old, change.new)
        return pairs

    def _apply_local(
        self, plan: ReloadPlan, identity: Identity, where: str, outcome: ReloadOutcome
    ) -> None:
        shown = describe(self._old_new(plan, plan.local))
        try:
            self._manager.apply_file_local(plan.local, identity=identity)
        except UpdateRefused as exc:
            log.error("hot reload of %s: not applied on this node: %s: %s%s", where, shown,
                      exc.message, _issues(exc))
            outcome.refused = exc.message
            return
        outcome.applied_local = tuple(sorted(plan.local))
        log.info("hot reload of %s: applied on this node: %s", where, shown)

    async def _propose(
        self, plan: ReloadPlan, identity: Identity, where: str, outcome: ReloadOutcome
    ) -> None:
        shown = describe(self._old_new(plan, plan.cluster))
        log.info("hot reload of %s: proposing to the cluster: %s", where, shown)
        try:
            result = await self._manager.apply_reload({}, plan.cluster, identity=identity)
        except UpdateRefused as exc:
            log.error("hot reload of %s: the cluster did not take %s: %s%s; nothing applied. "
                      "The file keeps the new value; to try again use `butterfly config "
                      "update` or edit the value again", where, shown, exc.message, _issues(exc))
            outcome.refused = exc.message
            return
        if result is None or not result.changed_paths:
            log.info("hot reload of %s: the cluster already has these values", where)
            return
        outcome.committed = result.changed_paths
        log.info("hot reload of %s: committed as revision %d", where, result.revision)


def _issues(exc: UpdateRefused) -> str:
    errors = [i for i in exc.errors if i.severity == "error"]
    text = "; ".join(i.render() for i in errors[:MAX_SHOWN])
    return f" ({text})" if text else ""
