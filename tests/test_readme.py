"""The README matches the code: its configuration reference, its commands and its runbooks are the real ones."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from streams.cli import build_parser
from streams.config_reference import render_reference


def test_configuration_reference_matches_the_settings_tree(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    match = re.search(r"<!-- config-reference:start -->\n(.*)<!-- config-reference:end -->", readme, re.S)
    assert match, "README lost its configuration reference markers"
    assert match.group(1) == render_reference(), "README config reference is stale: paste `prismaflow config --reference`"


def test_readme_commands_exist(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    makefile = (repo_root / "Makefile").read_text()
    for target in re.findall(r"^make (\w+)", readme, re.M):
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target} is in the README but not the Makefile"
    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for command in re.findall(r"^prismaflow (\w+)", readme, re.M):
        assert command in commands, f"prismaflow {command} is in the README but not the CLI"


def test_ci_runs_exactly_the_readme_test_command(repo_root: Path) -> None:
    ci = (repo_root / ".ci" / "run").read_text()
    commands = [line for line in ci.splitlines() if line.startswith("exec ")]
    assert commands == ["exec make test"]


def test_every_alert_rule_has_a_runbook_in_operating_prismaflow(repo_root: Path) -> None:
    rules = yaml.safe_load((repo_root / "deploy/prometheus/alerts.yml").read_text())
    names = [rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule]
    readme = (repo_root / "README.md").read_text()
    section = readme.split("## Operating Prismaflow", 1)[1].split("\n## ", 1)[0]
    runbook_rows = {line.split("|")[1].strip().strip("`") for line in section.splitlines()
                    if line.startswith("| `Prismaflow")}
    assert names, "no alert rules found"
    assert sorted(set(names) - runbook_rows) == [], "alert rules without a runbook row"
    assert sorted(runbook_rows - set(names)) == [], "runbook rows for rules that do not exist"
