"""Alert API ids are told apart from Compute and Code Security ids."""

from __future__ import annotations

import pytest

from processors.alert_ids import is_alert_api_id


@pytest.mark.parametrize("alert_id", ["P-1", "P-2301844", "I-226467"])
def test_cspm_and_ciem_alert_ids_are_alert_api_ids(alert_id: str) -> None:
    assert is_alert_api_id(alert_id)


@pytest.mark.parametrize("alert_id", ["", "P-", "p-12", "P-12a", "P-12\n", "sha256:4f1c", "CVE-2024-3094",
                                      "a7f0c2d1e5b34c6f", "code:repo/main.tf:12", "PP-12"])
def test_other_ids_are_not(alert_id: str) -> None:
    assert not is_alert_api_id(alert_id)
