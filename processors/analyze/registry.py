"""The prompt registry: versioned prompt files, locked by sha256, rendered into chat messages.

Layout: ``processors/analyze/prompts/<id>/<version>.yaml`` holds ``id``, ``version``,
``description``, ``system``, ``user`` and ``repair`` templates (``string.Template``: ``$alert_data``,
``$passages``, ``$priority``, ``$tier``, ``$score``, ``$error``). ``prompts/registry.lock.json`` records
``id``, ``version`` and the sha256 of each file's bytes.

A prompt version is immutable: :func:`build_registry` refuses a file whose hash differs from its lock
entry (:class:`PromptIntegrityError`) or that has no entry, so a changed prompt must be a new
version. :func:`relock` adds entries for new versions and refuses to change an existing one. Every
analysis records the prompt id and version and the sha256 of the exact rendered messages.

Everything here works on the files' bytes (:class:`PromptFile`) and the lock's text; reading and
writing the folder is :mod:`streams.analysis.inputs`'s job, once at start-up.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from processors.analyze.errors import PromptIntegrityError, PromptRegistryError
from processors.analyze.port import ChatMessage

__all__ = [
    "LOCK_NAME",
    "LockEntry",
    "PromptFile",
    "PromptRegistry",
    "PromptTemplate",
    "RenderedPrompt",
    "build_registry",
    "parse_lock",
    "relock",
]

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


@dataclass(frozen=True)
class PromptFile:
    """One prompt file as read: ``folder``/``stem`` are its place (``triage``/``1``), ``origin`` its path."""

    origin: str
    folder: str
    stem: str
    content: bytes


def parse_lock(text: str | None, origin: str) -> dict[tuple[str, str], LockEntry]:
    """The entries of a lock file's text (``None``: no lock file yet, so no entries)."""
    if text is None:
        return {}
    try:
        raw = json.loads(text)
        entries = [LockEntry.model_validate(e) for e in raw.get("prompts", [])]
    except (json.JSONDecodeError, ValidationError, AttributeError) as exc:
        raise PromptRegistryError(f"{origin} is not a valid prompt lock: {exc}") from exc
    return {(e.id, e.version): e for e in entries}


def _parse(file: PromptFile) -> tuple[_PromptFile, str]:
    try:
        prompt = _PromptFile.model_validate(yaml.safe_load(file.content))
    except (yaml.YAMLError, ValidationError) as exc:
        raise PromptRegistryError(f"prompt file {file.origin} is invalid: {exc}") from exc
    if (prompt.id, prompt.version) != (file.folder, file.stem):
        raise PromptRegistryError(f"prompt file {file.origin} declares {prompt.id}/{prompt.version}; the path must match")
    return prompt, hashlib.sha256(file.content).hexdigest()


class PromptRegistry:
    """The prompts of one directory, each verified against the lock."""

    def __init__(self, prompts: dict[str, dict[str, PromptTemplate]]) -> None:
        self._prompts = prompts

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


def build_registry(files: Sequence[PromptFile], lock: dict[tuple[str, str], LockEntry]) -> PromptRegistry:
    """The registry of ``files``, each verified against ``lock``.

    Raises :class:`PromptIntegrityError` when a file's sha256 differs from its lock entry or a
    locked version's file is gone, :class:`PromptRegistryError` when a file is not locked or invalid.
    """
    prompts: dict[str, dict[str, PromptTemplate]] = {}
    for file in files:
        prompt, digest = _parse(file)
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
    return PromptRegistry(prompts)


def relock(files: Sequence[PromptFile], lock: dict[tuple[str, str], LockEntry]) -> tuple[list[LockEntry], str | None]:
    """Lock entries for the versions in ``files`` not locked yet, and the new lock file's text.

    The text is ``None`` when nothing is new. Raises :class:`PromptIntegrityError` when a locked
    version's content changed: publish the change as a new version instead.
    """
    lock = dict(lock)
    added: list[LockEntry] = []
    for file in files:
        prompt, digest = _parse(file)
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
    if not added:
        return [], None
    ordered = sorted(lock.values(), key=lambda e: (e.id, _version_key(e.version)))
    payload: dict[str, Any] = {"prompts": [e.model_dump() for e in ordered]}
    return added, json.dumps(payload, indent=2) + "\n"
