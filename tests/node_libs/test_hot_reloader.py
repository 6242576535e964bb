"""Hot reload on a real in-process node: what each kind of edit does to the node."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from reload_helpers import Node, node_file, running_node, wait_until

from butterfly_config.config import ButterflyConfig
from butterfly_config.loader import ConfigLoader
from butterfly_config.node.reload import HotReloader
from butterfly_config.node.service import Identity, PatchOperation
from butterfly_config.node.watcher import config_files
from butterfly_config.sources.toml_edit import set_options

ADMIN = Identity("admin")


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(body())  # type: ignore[arg-type]


def reload_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "butterfly.reload" and r.levelno >= logging.ERROR]


def test_unchanged_files_do_nothing(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            outcome = await node.reloader.check()
            assert outcome is not None and outcome.plan is not None and outcome.plan.empty
            assert await node.reloader.check() is None  # same bytes: not even loaded

    run(body)


def test_dynamic_local_edit_applies_at_once_as_a_file_value(tmp_path: Path) -> None:
    path = node_file(tmp_path)

    async def body() -> None:
        async with running_node(path) as node:
            await node.manager.patch(
                [PatchOperation("set", "scheduling.queues.max_queue_depth", 5)], identity=ADMIN)
            assert node.manager.local_overrides == {"scheduling.queues.max_queue_depth": 5}
            set_options(path, {"scheduling.queues.max_queue_depth": 250})
            outcome = await node.reloader.check()
            assert outcome is not None
            assert outcome.applied_local == ("scheduling.queues.max_queue_depth",)
            assert node.value("scheduling.queues.max_queue_depth") == 250
            # The newer edit wins over the older API override and is not an override itself,
            # so a restart with this file runs the same value.
            assert node.manager.local_overrides == {}
            assert node.manager.base.get_value("scheduling.queues.max_queue_depth") == 250
            latest = node.manager.history(1, "local")[0]
            assert latest["action"] == "reload"
            assert latest["initiator"] == f"file:{path}"
            assert latest["changes"] == [
                {"path": "scheduling.queues.max_queue_depth", "old": 5, "new": 250}]
            assert node.manager.revision == 0

    run(body)


def test_log_level_change_takes_effect_immediately(tmp_path: Path) -> None:
    path = node_file(tmp_path)

    async def body() -> None:
        async with running_node(path) as node:
            set_options(path, {"observability.logging.level": "debug"})
            await node.reloader.check()
            assert logging.getLogger("butterfly").level == logging.DEBUG
            set_options(path, {"observability.logging.level": "error"})
            await node.reloader.check()
            assert logging.getLogger("butterfly").level == logging.ERROR

    run(body)


def test_dynamic_consensus_edit_is_committed_attributed_to_the_file(tmp_path: Path) -> None:
    path = node_file(tmp_path)

    async def body() -> None:
        async with running_node(path) as node:
            set_options(path, {"scheduling.policy": "round_robin",
                              "network.compression.level": 7})
            outcome = await node.reloader.check()
            assert outcome is not None
            assert outcome.committed == ("network.compression.level", "scheduling.policy")
            assert node.manager.revision == 1  # one update for the whole edit
            assert node.value("scheduling.policy") == "round_robin"
            entry = node.manager.history(1, "cluster")[0]
            assert (entry["action"], entry["initiator"]) == ("reload", f"file:{path}")

    run(body)


def test_static_edit_is_reported_not_applied_until_reverted(tmp_path: Path) -> None:
    path = node_file(tmp_path)

    async def body() -> None:
        async with running_node(path) as node:
            before = node.value("network.api_addr")
            set_options(path, {"network.api_addr": "127.0.0.1:1",
                              "observability.logging.sampling_rate": 0.5})
            outcome = await node.reloader.check()
            assert outcome is not None
            assert node.value("network.api_addr") == before
            assert node.manager.restart_required_paths() == ["network.api_addr"]
            assert node.value("observability.logging.sampling_rate") == 0.5  # the rest applies
            assert node.runtime.cluster_status()["nodes"][0]["restart_required"] == [
                "network.api_addr"]
            set_options(path, {"network.api_addr": before})
            await node.reloader.check()
            assert node.manager.restart_required_paths() == []

    run(body)


def test_broken_save_changes_nothing_is_reported_once_then_the_fix_applies(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = node_file(tmp_path)
    caplog.set_level(logging.INFO, logger="butterfly")

    async def body() -> None:
        async with running_node(path) as node:
            good = path.read_text()
            before = node.manager.config
            path.write_text(good + "[scheduling\npolicy = 'round_robin'\n")
            outcome = await node.reloader.check()
            assert outcome is not None and "invalid TOML" in outcome.error
            assert node.manager.config is before
            assert str(path) in node.manager.reload_status.last_error
            assert node.runtime.cluster_status()["nodes"][0]["reload_error"]
            assert await node.reloader.check() is None  # same content: not reported again
            os.utime(path)  # touched, same bytes
            assert await node.reloader.check() is None
            assert len(reload_errors(caplog)) == 1
            # Valid TOML, invalid configuration: also nothing applied, reported.
            path.write_text(good + "[resources.rate_limits]\nmax_requests_per_sec = -5\n"
                                   "[scheduling]\npolicy = 'round_robin'\n")
            outcome = await node.reloader.check()
            assert outcome is not None and "max_requests_per_sec" in outcome.error
            assert node.manager.config is before
            assert len(reload_errors(caplog)) == 2
            path.write_text(good)
            set_options(path, {"scheduling.policy": "round_robin"})
            outcome = await node.reloader.check()
            assert outcome is not None and outcome.committed == ("scheduling.policy",)
            assert node.manager.reload_status.last_error == ""

    run(body)


def test_a_file_behind_the_cluster_does_not_undo_committed_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = node_file(tmp_path)
    caplog.set_level(logging.INFO, logger="butterfly")

    async def body() -> None:
        async with running_node(path) as node:
            await node.manager.patch(
                [PatchOperation("set", "byzantine.failure_detection.phi_failed_threshold", 9.0),
                 PatchOperation("set", "scheduling.policy", "least_loaded")], identity=ADMIN)
            assert node.manager.revision == 1
            set_options(path, {"resources.rate_limits.max_tokens_per_sec": 250})
            await node.reloader.check()
            assert node.value("scheduling.policy") == "least_loaded"
            assert node.manager.revision == 1
            # A valid file whose change does not fit the committed configuration is refused
            # (suspect 10 > committed failed 9), logged once, and not tried again.
            set_options(path, {"byzantine.failure_detection.phi_suspect_threshold": 10.0})
            outcome = await node.reloader.check()
            assert outcome is not None and outcome.refused
            assert node.manager.revision == 1
            errors = reload_errors(caplog)
            assert len(errors) == 1
            assert "phi_suspect_threshold" in errors[0] and "nothing applied" in errors[0]
            assert await node.reloader.check() is None
            assert node.manager.revision == 1

    run(body)


def test_an_emptied_file_is_not_taken_as_all_defaults(tmp_path: Path) -> None:
    path = node_file(tmp_path)

    async def body() -> None:
        async with running_node(path) as node:
            before = node.manager.config
            path.write_text("")
            outcome = await node.reloader.check()
            assert outcome is not None and "empty" in outcome.error
            assert node.manager.config is before

    run(body)


def test_an_empty_included_file_is_fine(tmp_path: Path) -> None:
    (tmp_path / "local.toml").write_text("")
    path = node_file(tmp_path, '[include]\nfiles = ["local.toml"]\n')

    async def body() -> None:
        async with running_node(path) as node:
            set_options(path, {"resources.rate_limits.max_tokens_per_sec": 500})
            outcome = await node.reloader.check()
            assert outcome is not None and not outcome.error
            assert node.value("resources.rate_limits.max_tokens_per_sec") == 500
            included = tmp_path / "local.toml"
            included.write_text("[resources.rate_limits]\nburst_multiplier = 3.0\n")
            await node.reloader.check()
            assert node.value("resources.rate_limits.burst_multiplier") == 3.0
            included.write_text("")  # emptied on purpose: back to the default
            outcome = await node.reloader.check()
            assert outcome is not None and not outcome.error
            assert node.value("resources.rate_limits.burst_multiplier") == 2.0

    run(body)


def test_included_file_edits_apply_and_new_includes_are_followed(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    limits = tmp_path / "conf" / "limits.toml"
    limits.write_text("[resources.rate_limits]\nmax_requests_per_sec = 100\n")
    path = node_file(tmp_path, '[include]\nfiles = ["conf/limits.toml"]\n')

    async def body() -> None:
        async with running_node(path) as node:
            limits.write_text("[resources.rate_limits]\nmax_requests_per_sec = 300\n")
            outcome = await node.reloader.check()
            assert outcome is not None and str(limits) in outcome.files
            assert node.value("resources.rate_limits.max_requests_per_sec") == 300
            queues = tmp_path / "conf" / "queues.toml"
            queues.write_text("[scheduling.queues]\nmax_queue_depth = 42\n")
            limits.write_text('[include]\nfiles = ["queues.toml"]\n'
                              "[resources.rate_limits]\nmax_requests_per_sec = 300\n")
            await node.reloader.check()
            assert node.value("scheduling.queues.max_queue_depth") == 42
            queues.write_text("[scheduling.queues]\nmax_queue_depth = 43\n")
            await node.reloader.check()
            assert node.value("scheduling.queues.max_queue_depth") == 43

    run(body)


def test_watching_applies_rename_saves_and_recovers_from_a_broken_save(tmp_path: Path) -> None:
    path = node_file(tmp_path)

    async def body() -> None:
        async with running_node(path) as node:
            stop = asyncio.Event()
            task = asyncio.create_task(node.reloader.run(stop))
            try:
                await asyncio.sleep(0.3)
                text = path.read_text()
                temporary = tmp_path / "node.toml~"
                temporary.write_text(text + "[scheduling.queues]\nmax_queue_depth = 7\n")
                os.replace(temporary, path)
                await wait_until("rename-save applied",
                                 lambda: node.value("scheduling.queues.max_queue_depth") == 7)
                path.write_text(text + "[scheduling.queues]\nmax_queue_depth = \n")
                await wait_until("broken save reported",
                                 lambda: node.manager.reload_status.last_error != "")
                assert node.value("scheduling.queues.max_queue_depth") == 7
                path.write_text(text + "[scheduling.queues]\nmax_queue_depth = 8\n")
                await wait_until("fix applied",
                                 lambda: node.value("scheduling.queues.max_queue_depth") == 8)
                assert node.manager.reload_status.last_error == ""
            finally:
                stop.set()
                await asyncio.wait_for(task, 5.0)

    run(body)


def test_a_slow_partial_write_is_not_reported_as_a_broken_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = node_file(tmp_path)
    caplog.set_level(logging.INFO, logger="butterfly")

    async def body() -> None:
        async with running_node(path, settle_s=0.25) as node:  # the production pause
            stop = asyncio.Event()
            task = asyncio.create_task(node.reloader.run(stop))
            try:
                await asyncio.sleep(0.3)
                text = path.read_text() + "[scheduling.queues]\nmax_queue_depth = 9\n"
                cut = text.index("[scheduling.queues]") + 5  # inside the table header
                with path.open("w") as handle:  # truncated, then written in two parts
                    handle.write(text[:cut])
                    handle.flush()
                    await asyncio.sleep(0.15)  # longer than the watcher's 50 ms batch
                    handle.write(text[cut:])
                await wait_until("the completed file applied",
                                 lambda: node.value("scheduling.queues.max_queue_depth") == 9)
                assert reload_errors(caplog) == []
                assert node.manager.reload_status.last_error == ""
            finally:
                stop.set()
                await asyncio.wait_for(task, 5.0)

    run(body)


def test_a_node_restarted_with_the_edited_file_runs_the_same_values(tmp_path: Path) -> None:
    path = node_file(tmp_path)

    async def body() -> None:
        async with running_node(path) as node:
            set_options(path, {"resources.rate_limits.max_requests_per_sec": 321})
            await node.reloader.check()
        set_options(path, {"resources.rate_limits.max_requests_per_sec": 123})  # while stopped
        async with running_node(path) as node:
            assert node.value("resources.rate_limits.max_requests_per_sec") == 123

    run(body)


def test_node_helper_builds_a_standalone_node(tmp_path: Path) -> None:
    node = Node(node_file(tmp_path))
    try:
        assert node.runtime.standalone and node.manager.revision == 0
    finally:
        node.manager.close()
        node.runtime.store.close()


def test_an_env_file_edit_is_applied_like_a_file_edit(tmp_path: Path) -> None:
    path = node_file(tmp_path)
    env = tmp_path / "node.env"
    env.write_text("BUTTERFLY_SCHEDULING_QUEUES_MAX_QUEUE_DEPTH=300\n", encoding="utf-8")

    def load() -> ButterflyConfig:
        return ConfigLoader().add_file(path).add_env_file(env).set_environ({}).load()

    async def body() -> None:
        async with running_node(path) as node:
            reloader = HotReloader(node.manager, load, [path], node.runtime.base,
                                   env_files=[env], settle_s=0.01)
            assert await reloader.check() is not None
            assert node.value("scheduling.queues.max_queue_depth") == 300
            assert str(env) in config_files([path], [env]).names
            env.write_text("BUTTERFLY_SCHEDULING_QUEUES_MAX_QUEUE_DEPTH=400\n", encoding="utf-8")
            outcome = await reloader.check()
            assert outcome is not None
            assert outcome.applied_local == ("scheduling.queues.max_queue_depth",)
            assert node.value("scheduling.queues.max_queue_depth") == 400
            assert await reloader.check() is None  # same bytes: nothing to do

    run(body)
