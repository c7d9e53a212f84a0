"""Known false positives are dismissed automatically only in auto mode, for a family the policy lists under
``auto_dismiss``, outside production; never in assist or monitor."""

from __future__ import annotations

import pytest
import yaml

from processors.models import AlertStatus, Environment, ScoredAlert
from processors.records import RolloutMode
from processors.remediation.dismissal import decide_dismissal, dismissal_note
from processors.remediation.families import FamilyCatalog
from processors.remediation.modes import parse_policy
from tests.processors.remediation.conftest import family_alert

POLICY = parse_policy(yaml.safe_load("""
default: monitor
rules:
  - {environment: dev, mode: auto}
  - {environment: prod, mode: auto}
  - {environment: staging, mode: assist}
auto_dismiss: [s3_public_access]
"""))


def _noise(environment: Environment, family: str = "s3_public_access", **changes: object) -> ScoredAlert:
    scored = family_alert(family, alert_id="P-noise", resource_id="build-cache", config={"bucketName": "build-cache"},
                          environment=environment)
    return scored.model_copy(update={"suggested_dismissal": True,
                                     "suggestion_reason": "dismissed before as accepted risk", **changes})


def test_auto_mode_dismisses_an_allowlisted_known_false_positive_outside_production(families: FamilyCatalog) -> None:
    verdict = decide_dismissal(_noise(Environment.DEV), families, POLICY)
    assert verdict is not None and verdict.dismiss
    assert verdict.mode is RolloutMode.AUTO and verdict.family == "s3_public_access"


@pytest.mark.parametrize(("environment", "why"), [
    (Environment.STAGING, "assist mode"),  # assist: suggested only
    (Environment.TEST, "monitor mode"),  # no rule: the default, monitor
    (Environment.PROD, "only non-production"),  # auto, but production
])
def test_assist_monitor_and_production_never_dismiss(families: FamilyCatalog, environment: Environment,
                                                     why: str) -> None:
    verdict = decide_dismissal(_noise(environment), families, POLICY)
    assert verdict is not None and not verdict.dismiss and why in verdict.reason


def test_a_family_not_listed_for_dismissal_is_left_alone(families: FamilyCatalog) -> None:
    verdict = decide_dismissal(_noise(Environment.DEV, "ebs_default_encryption"), families, POLICY)
    assert verdict is not None and not verdict.dismiss and "auto_dismiss" in verdict.reason
    no_list = parse_policy(yaml.safe_load("default: auto\nauto_allowlist: [s3_public_access]"))
    listed_for_fixes_only = decide_dismissal(_noise(Environment.DEV), families, no_list)
    assert listed_for_fixes_only is not None and not listed_for_fixes_only.dismiss


def test_only_open_suggested_dismissals_of_the_alerts_own_record_are_considered(families: FamilyCatalog) -> None:
    assert decide_dismissal(_noise(Environment.DEV, suggested_dismissal=False), families, POLICY) is None
    assert decide_dismissal(_noise(Environment.DEV, incident_update=True), families, POLICY) is None
    resolved = _noise(Environment.DEV)
    resolved = resolved.model_copy(update={"alert": resolved.alert.model_copy(update={"status": AlertStatus.RESOLVED})})
    assert decide_dismissal(resolved, families, POLICY) is None


def test_the_dismissal_note_says_who_and_why_in_one_capped_line() -> None:
    note = dismissal_note(_noise(Environment.DEV, suggestion_reason="dismissed\nbefore " + "x" * 900))
    assert note.startswith("Dismissed by Prismaflow (auto mode): known false positive from history: dismissed before")
    assert "\n" not in note and len(note) == 500


def test_an_empty_dismissal_list_leaves_the_policy_digest_as_before() -> None:
    plain = parse_policy(yaml.safe_load("default: assist"))
    assert "auto_dismiss" not in plain.as_json()
    assert parse_policy(yaml.safe_load("default: assist\nauto_dismiss: [s3_public_access]")).digest() != plain.digest()
