"""``prismaflow eval``: the analysis evaluation and the tier evaluation, together or one at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.cli import main


def test_eval_tiers_prints_the_confusion_matrix_and_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "tiers"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== risk tiers ==")
    for text in ("labelled \\ scored", "exact agreement", "within one tier", "CRITICAL recall"):
        assert text in out
    assert "analysis stage" not in out


def test_eval_prints_both_evaluations_and_json_keys_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--json"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert set(both) == {"analysis", "tiers"}
    assert both["tiers"]["scenarios"] >= 80 and both["tiers"]["critical_recall"] == 1.0
    assert both["analysis"]["alerts"] > 0
    assert set(both["tiers"]["confusion"]) == {"low", "medium", "high", "critical"}


def test_eval_data_needs_a_target_and_a_readable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--data", "x.yaml"]) == 2
    assert "name it" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nscenarios: []\n")
    assert main(["eval", "tiers", "--data", str(bad)]) == 2
    assert "tier scenarios" in capsys.readouterr().err
