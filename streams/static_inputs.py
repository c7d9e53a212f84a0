"""Reading the stream core's static inputs from files: the scoring policy, the owner map and the
labelled tier scenarios.

Workers and CLI commands call these once at start-up; :mod:`processors` only ever sees the parsed
values (its ``parse_*`` functions take text, never a path), so the pure code does no I/O and a test
can hand it any text it likes. The exploitability feeds are read by :mod:`connectors.feeds.store`
(beside the refresh that writes them), the analysis stage's prompts, playbooks and knowledge by
:mod:`streams.analysis.inputs`.

Failure: a file that cannot be read, or whose content is invalid, raises
:class:`~processors.errors.ConfigurationError` naming the file; the process should not start.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from processors.enrich.owners import OwnerMap, parse_owner_map
from processors.errors import ConfigurationError
from processors.score.policy import ScoringPolicy, parse_scoring_policy
from processors.tier_evaluation.scenarios import ScenarioFile, parse_scenarios

__all__ = [
    "DEFAULT_POLICY_PATH",
    "DEFAULT_SCENARIOS_PATH",
    "EXAMPLE_OWNER_MAP_PATH",
    "load_owner_map",
    "load_scenarios",
    "load_scoring_policy",
    "package_dir",
    "read_text",
]


def package_dir(package: str) -> Path:
    """The folder of an installed package of ours, where its data files lie."""
    return Path(str(resources.files(package)))


#: The scoring policy shipped with the code (``processors/policies/scoring.yaml``).
DEFAULT_POLICY_PATH = package_dir("processors.policies") / "scoring.yaml"
#: The documented example of an owner map, shipped beside the feed snapshot.
EXAMPLE_OWNER_MAP_PATH = package_dir("processors.enrich.data") / "owners.example.yaml"
#: The labelled tier scenarios `prismaflow eval tiers` uses by default (a file of this checkout).
DEFAULT_SCENARIOS_PATH = Path(__file__).resolve().parents[1] / "tests" / "data" / "eval" / "tier_scenarios.yaml"


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of ``path``; :class:`ConfigurationError` naming ``what`` and the file otherwise."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{what} {path} cannot be read: {exc}") from exc


def load_scoring_policy(path: Path = DEFAULT_POLICY_PATH) -> ScoringPolicy:
    """Read and validate a scoring policy YAML file."""
    return parse_scoring_policy(read_text(path, "scoring policy"), str(path))


def load_owner_map(path: Path) -> OwnerMap:
    """Read and validate an owner mapping YAML file."""
    return parse_owner_map(read_text(path, "owner map"), str(path))


def load_scenarios(path: Path = DEFAULT_SCENARIOS_PATH) -> ScenarioFile:
    """Read and validate a labelled tier scenario file."""
    return parse_scenarios(read_text(path, "tier scenarios"), str(path))
