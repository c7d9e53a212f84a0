"""The shipped prompt registry read from its folder: hashes locked, changes need a new version, the
lock only grows (streams/analysis/inputs.py over processors/analyze/registry.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from processors.analyze.errors import PromptIntegrityError, PromptRegistryError
from streams.analysis.inputs import DEFAULT_PROMPTS_DIR, load_prompt_registry, lock_prompts


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    root = tmp_path / "prompts"
    shutil.copytree(DEFAULT_PROMPTS_DIR, root)
    return root


def test_shipped_prompts_match_their_lock() -> None:
    """Fails when a shipped prompt was edited without a new version: add <id>/<n+1>.yaml and lock it."""
    registry = load_prompt_registry()
    assert registry.get("triage").version == "1"


def test_changed_content_without_a_new_version_is_refused(prompts: Path) -> None:
    path = prompts / "triage" / "1.yaml"
    path.write_text(path.read_text().replace("senior cloud security analyst", "helpful assistant"))

    with pytest.raises(PromptIntegrityError, match="triage/1 changed"):
        load_prompt_registry(prompts)
    with pytest.raises(PromptIntegrityError, match="refusing to re-lock"):
        lock_prompts(prompts)


def test_a_new_version_is_locked_and_becomes_the_latest(prompts: Path) -> None:
    text = (prompts / "triage" / "1.yaml").read_text().replace('version: "1"', 'version: "2"')
    (prompts / "triage" / "2.yaml").write_text(text.replace("senior cloud", "principal cloud"))

    with pytest.raises(PromptRegistryError, match="not in registry.lock.json"):
        load_prompt_registry(prompts)
    added = lock_prompts(prompts)

    assert [(e.id, e.version) for e in added] == [("triage", "2")]
    registry = load_prompt_registry(prompts)
    assert registry.get("triage").version == "2" and registry.get("triage", "1").version == "1"
    assert lock_prompts(prompts) == []


def test_a_removed_locked_version_is_reported(prompts: Path) -> None:
    (prompts / "triage" / "1.yaml").unlink()
    with pytest.raises(PromptIntegrityError, match="have no file"):
        load_prompt_registry(prompts)


def test_rendering_hashes_the_exact_messages() -> None:
    prompt = load_prompt_registry().get("triage")
    values = {"alert_data": "{}", "passages": "[]", "priority": "P1", "tier": "critical", "score": "90"}
    one, two = prompt.render(**values), prompt.render(**{**values, "score": "91"})
    assert one.input_hash != two.input_hash and len(one.input_hash) == 64
    assert "priority P1" in one.messages[1]["content"]
