"""Logging as `observability.logging` says: level, json/text/pretty, destination.

`apply_logging` is idempotent and cheap, so hot reload calls it again with the
new settings and a level change takes effect at once. Per-module filters map
logger names to levels.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

LEVELS: dict[str, int] = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}

ROOT_LOGGER = "butterfly"
_HANDLER_MARK = "_butterfly_handler"


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "info"
    format: str = "text"
    output: str = "stderr"
    file_path: str | None = None
    include_source_location: bool = False
    filters: Mapping[str, str] = field(default_factory=dict)
    node_id: str = ""


class JsonFormatter(logging.Formatter):
    """One JSON object per line; fields fixed so log pipelines can rely on them."""

    def __init__(self, node_id: str, include_source: bool) -> None:
        super().__init__()
        self.node_id = node_id
        self.include_source = include_source

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "node": self.node_id,
            "msg": record.getMessage(),
        }
        if self.include_source:
            entry["src"] = f"{record.pathname}:{record.lineno}"
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _handler_for(settings: LogSettings) -> logging.Handler:
    if settings.output == "file" and settings.file_path:
        path = Path(settings.file_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return logging.handlers.WatchedFileHandler(path, encoding="utf-8")
    if settings.output == "syslog":
        address = "/dev/log" if Path("/dev/log").exists() else ("127.0.0.1", 514)
        return logging.handlers.SysLogHandler(address=address)
    return logging.StreamHandler(sys.stdout if settings.output == "stdout" else sys.stderr)


def apply_logging(settings: LogSettings) -> None:
    """(Re)configure the `butterfly` logger tree; replaces our own handler only."""
    root = logging.getLogger(ROOT_LOGGER)
    root.setLevel(LEVELS.get(settings.level, logging.INFO))
    root.propagate = False
    for existing in list(root.handlers):
        if getattr(existing, _HANDLER_MARK, False):
            root.removeHandler(existing)
            existing.close()
    handler = _handler_for(settings)
    setattr(handler, _HANDLER_MARK, True)
    if settings.format == "json":
        handler.setFormatter(JsonFormatter(settings.node_id, settings.include_source_location))
    else:
        fmt = f"%(asctime)s %(levelname)-5s [{settings.node_id}] %(name)s: %(message)s"
        handler.setFormatter(logging.Formatter(fmt))
    root.addHandler(handler)
    for module, level in settings.filters.items():
        name = module if module.startswith(ROOT_LOGGER) else f"{ROOT_LOGGER}.{module}"
        logging.getLogger(name).setLevel(LEVELS.get(level, logging.INFO))


@contextmanager
def logging_restored() -> Iterator[None]:
    """Undo, on leaving, what a node's `apply_logging` did to the `butterfly` logger tree:
    for nodes built inside another program (tests, benchmarks, an embedding process)."""
    root = logging.getLogger(ROOT_LOGGER)
    saved = (root.level, list(root.handlers), root.propagate)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in saved[1]:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(saved[0])
        root.propagate = saved[2]
