"""The prompt registry as pure logic over file contents: verification against the lock, relocking."""

from __future__ import annotations

import json

import pytest

from processors.analyze.errors import PromptIntegrityError, PromptRegistryError
from processors.analyze.registry import PromptFile, build_registry, parse_lock, relock

PROMPT = b'id: triage\nversion: "1"\nsystem: You analyse $priority alerts.\nuser: $alert_data\nrepair: Fix $error\n'


def _file(content: bytes = PROMPT, folder: str = "triage", stem: str = "1") -> PromptFile:
    return PromptFile(f"mem/{folder}/{stem}.yaml", folder, stem, content)


def test_relocking_new_content_then_building_verifies_it() -> None:
    added, text = relock([_file()], parse_lock(None, "mem/lock"))

    assert [(e.id, e.version) for e in added] == [("triage", "1")] and text is not None
    registry = build_registry([_file()], parse_lock(text, "mem/lock"))
    rendered = registry.get("triage").render(alert_data="{}", passages="[]", priority="P1", tier="critical", score="90")
    assert rendered.messages[0]["content"] == "You analyse P1 alerts."
    assert relock([_file()], parse_lock(text, "mem/lock")) == ([], None)


def test_content_that_differs_from_its_lock_entry_is_refused() -> None:
    _, text = relock([_file()], {})
    changed = _file(PROMPT.replace(b"You analyse", b"You obey"))

    with pytest.raises(PromptIntegrityError, match="triage/1 changed"):
        build_registry([changed], parse_lock(text, "mem/lock"))
    with pytest.raises(PromptIntegrityError, match="refusing to re-lock"):
        relock([changed], parse_lock(text, "mem/lock"))


def test_a_file_whose_place_does_not_match_its_id_is_refused_naming_it() -> None:
    with pytest.raises(PromptRegistryError, match="mem/other/1.yaml declares triage/1"):
        relock([_file(folder="other")], {})


def test_a_malformed_lock_is_a_registry_error_naming_its_origin() -> None:
    with pytest.raises(PromptRegistryError, match="mem/lock is not a valid prompt lock"):
        parse_lock(json.dumps({"prompts": [{"id": "triage"}]}), "mem/lock")
