"""Hot reload decisions without I/O: sorting changes, file sets, where to watch."""

from __future__ import annotations

import os
from pathlib import Path

from butterfly_config.config import ButterflyConfig
from butterfly_config.node.reload import describe, plan_reload
from butterfly_config.node.watcher import ConfigFiles, config_files, watch_plan

BASE = ButterflyConfig.defaults().with_values({"node.node_id": "n1"})


def test_changes_are_sorted_by_category() -> None:
    new = BASE.with_values({
        "observability.logging.level": "debug",      # dynamic-local
        "scheduling.policy": "round_robin",          # dynamic-consensus
        "network.api_addr": "127.0.0.1:9999",        # static-local
        "byzantine.f_value": 2,                       # static-critical
    })
    plan = plan_reload(BASE, new, running=BASE)
    assert plan.local == {"observability.logging.level": "debug"}
    assert plan.cluster == {"scheduling.policy": "round_robin"}
    assert plan.restart_required == {
        "byzantine.f_value": (1, 2),
        "network.api_addr": ("127.0.0.1:8080", "127.0.0.1:9999"),
    }


def test_only_what_the_file_changed_counts_not_what_differs_from_the_running_config() -> None:
    # The cluster committed scheduling.policy through the API; the file still has the old value.
    running = BASE.with_values({"scheduling.policy": "least_loaded"})
    edited = BASE.with_values({"observability.logging.level": "warn"})
    plan = plan_reload(BASE, edited, running=running)
    assert plan.cluster == {}
    assert plan.local == {"observability.logging.level": "warn"}


def test_same_content_plans_nothing() -> None:
    plan = plan_reload(BASE, BASE.with_values({}), running=BASE)
    assert plan.empty and not plan.restart_required


def test_restart_required_persists_until_the_file_agrees_with_the_running_value() -> None:
    moved = BASE.with_values({"network.api_addr": "127.0.0.1:9999"})
    first = plan_reload(BASE, moved, running=BASE)
    assert list(first.restart_required) == ["network.api_addr"]
    # An unrelated edit later: the static change is still pending.
    later = moved.with_values({"observability.logging.level": "debug"})
    second = plan_reload(moved, later, running=BASE, pending=first.restart_required)
    assert list(second.restart_required) == ["network.api_addr"]
    # The operator puts the old address back: nothing is pending any more.
    reverted = later.with_values({"network.api_addr": "127.0.0.1:8080"})
    third = plan_reload(later, reverted, running=BASE, pending=second.restart_required)
    assert third.restart_required == {}


def test_description_names_paths_with_old_and_new_values() -> None:
    text = describe({"scheduling.policy": ("predictive", "round_robin"),
                     "metadata.description": (None, "see https://u:pw@example.com/x")})
    assert 'scheduling.policy ("predictive" -> "round_robin")' in text
    assert "unset ->" in text
    assert "pw" not in text


def test_file_set_follows_includes_relative_to_the_including_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    top = tmp_path / "node.toml"
    top.write_text('[include]\nfiles = ["conf/a.toml"]\n')
    (tmp_path / "conf" / "a.toml").write_text('[include]\nfiles = ["b.toml", "missing.toml"]\n')
    (tmp_path / "conf" / "b.toml").write_text("[include]\nfiles = ['../node.toml']\n")  # cycle
    files = config_files([top])
    assert files.names == (
        str(top),
        str(tmp_path / "conf" / "a.toml"),
        str(tmp_path / "conf" / "b.toml"),
        str(tmp_path / "conf" / "missing.toml"),
    )
    assert files.contents[-1] is None


def test_broken_file_is_listed_and_its_includes_are_not_guessed(tmp_path: Path) -> None:
    top = tmp_path / "node.toml"
    top.write_text('[include\nfiles = ["a.toml"]\n')
    files = config_files([top])
    assert files.names == (str(top),)
    assert files.contents == (top.read_bytes(),)


def test_digest_and_changed_files() -> None:
    before = ConfigFiles(("a", "b"), (b"x", b"y"))
    assert before.digest == ConfigFiles(("a", "b"), (b"x", b"y")).digest
    after = ConfigFiles(("a", "b", "c"), (b"x", b"z", None))
    assert after.digest != before.digest
    assert after.changed_since(before) == ["b", "c"]
    assert after.changed_since(None) == ["a", "b", "c"]
    assert ConfigFiles(("a",), (b"",)).empty_files() == ["a"]
    assert ConfigFiles(("a",), (None,)).digest != ConfigFiles(("a",), (b"",)).digest


def test_watch_plan_watches_directories_and_keeps_only_the_files(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    plan = watch_plan([str(tmp_path / "node.toml"), str(tmp_path / "conf" / "a.toml")])
    assert plan.directories == {str(tmp_path), str(tmp_path / "conf")}
    assert plan.wants(str(tmp_path / "node.toml"))
    assert plan.wants(str(tmp_path / "conf" / ".." / "conf" / "a.toml"))
    assert not plan.wants(str(tmp_path / "node.toml.swp"))
    assert not plan.wants(str(tmp_path / "conf"))


def test_watch_plan_for_a_missing_directory_watches_the_nearest_ancestor(tmp_path: Path) -> None:
    wanted = tmp_path / "later" / "deeper" / "a.toml"
    plan = watch_plan([str(wanted)])
    assert plan.directories == {str(tmp_path)}
    assert plan.wants(str(tmp_path / "later"))  # its creation means: plan again


def test_watch_plan_follows_a_symlinked_file_to_its_target(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "node.toml"
    target.write_text("")
    link = tmp_path / "node.toml"
    os.symlink(target, link)
    plan = watch_plan([str(link)])
    assert plan.directories == {str(tmp_path), str(tmp_path / "real")}
    assert plan.wants(str(link)) and plan.wants(str(target))
