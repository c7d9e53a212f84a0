"""The prompt registry: versioned prompt files, locked by sha256, rendered into chat messages.

Layout: ``processors/analyze/prompts/<id>/<version>.yaml`` holds ``id``, ``version``,
``description``, ``system``, ``user`` and ``repair`` templates (``string.Template``: ``$alert_data``,
``$passages``, ``$priority``, ``$tier``, ``$score``, ``$error``). ``prompts/registry.lock.json`` records
``id``, ``version`` and the sha256 of each file's bytes.

A prompt version is immutable: :meth:`PromptRegistry.load` refuses a file whose hash differs from its
lock entry (:class:`PromptIntegrityError`) or that has no entry, so a changed prompt must be a new
version. :func:`lock_prompts` adds entries for new versions and refuses to change an existing one.
Every analysis records the prompt id and version and the sha256 of the exact rendered messages.
"""

from __future__ import annotations

import hashlib
import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors.llm.client import ChatMessage
from processors.analyze.errors import PromptIntegrityError, PromptRegistryError

__all__ = ["DEFAULT_PROMPTS_DIR", "LockEntry", "PromptRegistry", "PromptTemplate", "RenderedPrompt", "lock_prompts"]

DEFAULT_PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
LOCK_NAME = "registry.lock.json"


class LockEntry(BaseModel):
    """One locked prompt version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    version: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class _PromptFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    version: str = Field(pattern=r"^[0-9]+(\.[0-9]+)*$")
    description: str = ""
    system: str
    user: str
    repair: str


@dataclass(frozen=True)
class RenderedPrompt:
    """Messages ready to send, and the sha256 of exactly those messages."""

    prompt_id: str
    prompt_version: str
    messages: tuple[ChatMessage, ...]
    input_hash: str


@dataclass(frozen=True)
class PromptTemplate:
    """One locked prompt version."""

    id: str
    version: str
    description: str
    system: str
    user: str
    repair: str
    sha256: str

    def render(self, **values: str) -> RenderedPrompt:
        """System and user messages with ``values`` substituted; raises KeyError for a missing value."""
        messages = (
            ChatMessage(role="system", content=string.Template(self.system).substitute(values)),
            ChatMessage(role="user", content=string.Template(self.user).substitute(values)),
        )
        return RenderedPrompt(self.id, self.version, messages, hash_messages(messages))

    def repair_message(self, error: str) -> ChatMessage:
        """The user message asking the model to fix an answer that failed validation with ``error``."""
        return ChatMessage(role="user", content=string.Template(self.repair).substitute(error=error))


def hash_messages(messages: tuple[ChatMessage, ...] | list[ChatMessage]) -> str:
    """sha256 (hex) of the messages as canonical JSON."""
    canonical = json.dumps([dict(m) for m in messages], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _prompt_files(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*.yaml") if p.is_file())


def _read_lock(root: Path) -> dict[tuple[str, str], LockEntry]:
    path = root / LOCK_NAME
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text())
        entries = [LockEntry.model_validate(e) for e in raw.get("prompts", [])]
    except (json.JSONDecodeError, ValidationError, AttributeError) as exc:
        raise PromptRegistryError(f"{path} is not a valid prompt lock: {exc}") from exc
    return {(e.id, e.version): e for e in entries}


def _parse(path: Path) -> tuple[_PromptFile, str]:
    content = path.read_bytes()
    try:
        prompt = _PromptFile.model_validate(yaml.safe_load(content))
    except (yaml.YAMLError, ValidationError) as exc:
        raise PromptRegistryError(f"prompt file {path} is invalid: {exc}") from exc
    if (prompt.id, prompt.version) != (path.parent.name, path.stem):
        raise PromptRegistryError(f"prompt file {path} declares {prompt.id}/{prompt.version}; the path must match")
    return prompt, hashlib.sha256(content).hexdigest()


class PromptRegistry:
    """The prompts of one directory, each verified against the lock."""

    def __init__(self, prompts: dict[str, dict[str, PromptTemplate]]) -> None:
        self._prompts = prompts

    @classmethod
    def load(cls, root: Path = DEFAULT_PROMPTS_DIR) -> PromptRegistry:
        """Read and verify every prompt under ``root``; called once at start-up.

        Raises :class:`PromptIntegrityError` when a file's sha256 differs from its lock entry or a
        locked version's file is gone, :class:`PromptRegistryError` when a file is not locked or invalid.
        """
        lock = _read_lock(root)
        prompts: dict[str, dict[str, PromptTemplate]] = {}
        for path in _prompt_files(root):
            prompt, digest = _parse(path)
            entry = lock.get((prompt.id, prompt.version))
            if entry is None:
                raise PromptRegistryError(f"prompt {prompt.id}/{prompt.version} is not in {LOCK_NAME}; run lock_prompts()")
            if entry.sha256 != digest:
                raise PromptIntegrityError(
                    f"prompt {prompt.id}/{prompt.version} changed (sha256 {digest[:12]} != locked {entry.sha256[:12]});"
                    " a changed prompt needs a new version"
                )
            prompts.setdefault(prompt.id, {})[prompt.version] = PromptTemplate(
                prompt.id, prompt.version, prompt.description, prompt.system, prompt.user, prompt.repair, digest
            )
        missing = [f"{i}/{v}" for (i, v) in lock if v not in prompts.get(i, {})]
        if missing:
            raise PromptIntegrityError(f"locked prompt versions have no file: {', '.join(sorted(missing))}")
        return cls(prompts)

    def get(self, prompt_id: str, version: str | None = None) -> PromptTemplate:
        """The prompt ``prompt_id`` at ``version``, or its highest version."""
        versions = self._prompts.get(prompt_id)
        if not versions:
            raise PromptRegistryError(f"unknown prompt {prompt_id!r}")
        if version is None:
            return versions[max(versions, key=_version_key)]
        if version not in versions:
            raise PromptRegistryError(f"prompt {prompt_id!r} has no version {version!r}")
        return versions[version]


def lock_prompts(root: Path = DEFAULT_PROMPTS_DIR) -> list[LockEntry]:
    """Add lock entries for prompt versions not locked yet; return the new entries.

    Raises :class:`PromptIntegrityError` (and writes nothing) when a locked version's content
    changed: publish the change as a new version instead.
    """
    lock = _read_lock(root)
    added: list[LockEntry] = []
    for path in _prompt_files(root):
        prompt, digest = _parse(path)
        key = (prompt.id, prompt.version)
        if key in lock:
            if lock[key].sha256 != digest:
                raise PromptIntegrityError(
                    f"prompt {prompt.id}/{prompt.version} is locked with another sha256; refusing to re-lock it"
                )
            continue
        entry = LockEntry(id=prompt.id, version=prompt.version, sha256=digest)
        lock[key] = entry
        added.append(entry)
    if added:
        ordered = sorted(lock.values(), key=lambda e: (e.id, _version_key(e.version)))
        payload: dict[str, Any] = {"prompts": [e.model_dump() for e in ordered]}
        (root / LOCK_NAME).write_text(json.dumps(payload, indent=2) + "\n")
    return added


if __name__ == "__main__":
    for new in lock_prompts():
        print(f"locked {new.id}/{new.version} sha256={new.sha256}")
