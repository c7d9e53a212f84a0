"""Risk tiers and scores: the rubric of docs/scoring.md, explained factor by factor.

* :func:`score` (``scorer.py``): one alert in, a :class:`ScoredAlert` out, pure; called by the
  stateful stage after dedupe and correlation.
* :func:`decide_tier` (``rubric.py``): the rubric's rules, adjustments and gates.
* :func:`finding_facts` (``findings.py``): what the finding is and what its context says.
* :class:`ScoringPolicy` / :func:`parse_scoring_policy` (``policy.py``): the knobs in
  ``processors/policies/scoring.yaml``, read once at start-up by :mod:`streams.static_inputs`.
* :class:`DismissalHistory` (``history.py``): noise learnt from earlier dismissals.
"""

from __future__ import annotations

from processors.score.findings import Exploitation, FindingFacts, FindingKind, finding_facts
from processors.score.history import DismissalHistory
from processors.score.policy import TIER_ORDER, ScoringPolicy, parse_scoring_policy, tier_at_least
from processors.score.rubric import RULE_TITLES, TierDecision, decide_tier
from processors.score.scorer import score

__all__ = [
    "RULE_TITLES",
    "TIER_ORDER",
    "DismissalHistory",
    "Exploitation",
    "FindingFacts",
    "FindingKind",
    "ScoringPolicy",
    "TierDecision",
    "decide_tier",
    "finding_facts",
    "tier_at_least",
    "parse_scoring_policy",
    "score",
]
