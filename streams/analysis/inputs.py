"""Reading the analysis stage's static inputs: the prompt registry, the playbooks, the knowledge base.

The files ship inside ``processors/analyze`` (``prompts/``, ``playbooks/``, ``knowledge/``); the
analysis service reads them once at start-up through these functions and hands their text to the
pure parsers of :mod:`processors.analyze` (which never open a file). :func:`lock_prompts` is the
maintainer's tool that adds lock entries for new prompt versions: ``python -m
streams.analysis.inputs``.

Failure: an unreadable or invalid file raises :class:`~processors.errors.ConfigurationError`
(:class:`~processors.analyze.errors.PromptRegistryError` / ``PromptIntegrityError`` for prompts)
naming the file; the stage should not start.
"""

from __future__ import annotations

from pathlib import Path

from processors.analyze.playbook import PlaybookLibrary, parse_playbook
from processors.analyze.registry import LOCK_NAME, LockEntry, PromptFile, PromptRegistry, build_registry, parse_lock, relock
from processors.analyze.retrieval import KnowledgeBase
from processors.errors import ConfigurationError
from streams.static_inputs import package_dir, read_text

__all__ = [
    "DEFAULT_KNOWLEDGE_DIR",
    "DEFAULT_PLAYBOOK_DIR",
    "DEFAULT_PROMPTS_DIR",
    "load_knowledge_base",
    "load_playbooks",
    "load_prompt_registry",
    "lock_prompts",
]

_PACKAGE = package_dir("processors.analyze")
DEFAULT_PROMPTS_DIR = _PACKAGE / "prompts"
DEFAULT_PLAYBOOK_DIR = _PACKAGE / "playbooks"
DEFAULT_KNOWLEDGE_DIR = _PACKAGE / "knowledge"


def _prompt_files(root: Path) -> list[PromptFile]:
    files: list[PromptFile] = []
    for path in sorted(p for p in root.glob("*/*.yaml") if p.is_file()):
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"prompt file {path} cannot be read: {exc}") from exc
        files.append(PromptFile(str(path), path.parent.name, path.stem, content))
    return files


def _lock(root: Path) -> dict[tuple[str, str], LockEntry]:
    path = root / LOCK_NAME
    return parse_lock(read_text(path, "prompt lock") if path.exists() else None, str(path))


def load_prompt_registry(root: Path = DEFAULT_PROMPTS_DIR) -> PromptRegistry:
    """Read and verify every prompt under ``root`` against its lock (see :mod:`processors.analyze.registry`)."""
    return build_registry(_prompt_files(root), _lock(root))


def lock_prompts(root: Path = DEFAULT_PROMPTS_DIR) -> list[LockEntry]:
    """Add lock entries for prompt versions not locked yet; return the new entries.

    Raises :class:`~processors.analyze.errors.PromptIntegrityError` (and writes nothing) when a
    locked version's content changed: publish the change as a new version instead.
    """
    added, text = relock(_prompt_files(root), _lock(root))
    if text is not None:
        (root / LOCK_NAME).write_text(text)
    return added


def load_playbooks(root: Path = DEFAULT_PLAYBOOK_DIR) -> PlaybookLibrary:
    """Every ``*.yaml`` playbook under ``root``, in file-name order."""
    return PlaybookLibrary([parse_playbook(read_text(path, "playbook"), str(path))
                            for path in sorted(root.glob("*.yaml"))])


def load_knowledge_base(root: Path = DEFAULT_KNOWLEDGE_DIR) -> KnowledgeBase:
    """The BM25 index over every ``*.md`` document under ``root``, in file-name order."""
    return KnowledgeBase.from_documents((path.name, read_text(path, "knowledge document"))
                                        for path in sorted(root.glob("*.md")))


if __name__ == "__main__":
    for new in lock_prompts():
        print(f"locked {new.id}/{new.version} sha256={new.sha256}")
