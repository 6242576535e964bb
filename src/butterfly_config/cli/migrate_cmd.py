"""`butterfly config migrate` and `butterfly config check-compatibility`.

migrate: older layout -> current schema. It prints what happened to every key
(old path = old value -> new path = new value; unmapped keys with the reason),
then checks that the result loads (environment development, no environment
variables), and writes it unless `--dry-run`. Exit 0 when the result loads,
1 when it is written but does not load yet (or the input is malformed TOML),
2 for an unknown version pair (the supported steps are listed) or an I/O error.

check-compatibility: loads the configuration (exit 1 with every issue when it
does not load) and compares its `metadata.config_version` with the cluster's
version by the rules of `butterfly_config.compat`.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

from butterfly_config.compat import check, parse_version
from butterfly_config.errors import ConfigError, ConfigIssue, UsageError
from butterfly_config.migrations import migrate_file
from butterfly_config.migrations.io import write_text_atomically


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and a.samefile(b))
    except OSError:
        return False


def _load_issues(path: Path, shown_as: str) -> list[ConfigIssue]:
    """Every issue (errors and warnings) of loading `path` alone, as in development.

    No environment variables and no overrides: the check is about the file.
    Issues located in `path` name `shown_as` instead (the dry run checks a copy).
    """
    from butterfly_config.loader import ConfigLoader

    loader = ConfigLoader().add_file(path).set_environ({}).set_environment("development")
    try:
        issues = list(loader.load().warnings)
    except ConfigError as exc:
        issues = exc.errors or [ConfigIssue(path="", message=exc.message, hint=exc.hint)]
    return [dataclasses.replace(i, file=shown_as) if i.file == str(path) else i for i in issues]


def migrate(args: argparse.Namespace) -> int:
    """Migrate --input from --from to --to; print the report; write --output unless dry run."""
    source, target = Path(args.input), Path(args.output)
    if _same_file(source, target):
        raise UsageError(f"--output {target} is the input file; refusing to overwrite it",
                         hint="write the migrated file elsewhere and compare before replacing")
    result = migrate_file(source, args.from_version, args.to_version)
    print(result.report.render())
    if args.dry_run:
        with tempfile.TemporaryDirectory(prefix="butterfly-migrate-") as tmp:
            probe = Path(tmp) / target.name
            probe.write_text(result.text, encoding="utf-8")
            issues = _load_issues(probe, f"{target} (dry run)")
    else:
        write_text_atomically(target, result.text)
        issues = _load_issues(target, str(target))
    errors = [i for i in issues if i.severity == "error"]
    if issues:
        print(f"loading the migrated configuration (environment development): "
              f"{len(errors)} error(s), {len(issues) - len(errors)} warning(s)")
    for issue in issues:
        print(issue.render())
    if errors:
        print(f"the migrated configuration does not load yet ({len(errors)} error(s)): "
              "fix them in the output before using it")
    else:
        print("the migrated configuration loads (environment development)")
    if args.dry_run:
        print(f"dry run: nothing written ({target} left untouched)")
    else:
        print(f"wrote {target}")
    return 1 if errors else 0


def check_compatibility(args: argparse.Namespace) -> int:
    """Compare the configuration's metadata.config_version with --cluster-version."""
    cluster = parse_version(args.cluster_version, "--cluster-version")
    from butterfly_config.loader import load_from_args

    config = load_from_args(args)
    declared = str(config.get_value("metadata.config_version"))
    try:
        node = parse_version(declared, "metadata.config_version")
    except UsageError as exc:  # the schema checks it too; this is the configuration's fault
        issue = ConfigIssue(path="metadata.config_version", message=exc.message, hint=exc.hint)
        raise ConfigError(exc.message, [issue]) from exc
    result = check(node, cluster)
    print(f"configuration version: {node}")
    print(f"cluster version:       {cluster}")
    for reason in result.reasons:
        print(("" if result.compatible else "error: ") + reason)
    for warning in result.warnings:
        print(f"warning: {warning}")
    if result.hint:
        print(f"  hint: {result.hint}")
    print("compatible" if result.compatible else "incompatible")
    return 0 if result.compatible else 1
