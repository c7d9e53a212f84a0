"""parliament, Duo Labs' IAM policy linter, behind :class:`~processors.remediation.ports.IamPolicyLinter`.

Used on the least-privilege policies proposed for CIEM findings: parliament knows every IAM action,
resource type and condition key (its own copy of the IAM definitions), so it catches unknown actions,
mismatched resources and malformed documents that a hand-written check would miss.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from typing import Any

__all__ = ["ParliamentLinter"]


class ParliamentLinter:
    """Lints a policy document with parliament (community auditors included)."""

    def __init__(self, *, include_community_auditors: bool = True) -> None:
        with warnings.catch_warnings():
            # parliament opens its data files without closing them at import time.
            warnings.simplefilter("ignore", ResourceWarning)
            import parliament

        self._parliament = parliament
        self._community = include_community_auditors

    def findings(self, policy_document: Mapping[str, Any]) -> tuple[str, ...]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            policy = self._parliament.analyze_policy_string(
                json.dumps(dict(policy_document)), include_community_auditors=self._community)
        return tuple(sorted(f"{f.issue}: {_detail(f.detail)}" for f in policy.findings))


def _detail(detail: Any) -> str:
    return json.dumps(detail, sort_keys=True, default=str)[:200] if not isinstance(detail, str) else detail[:200]
