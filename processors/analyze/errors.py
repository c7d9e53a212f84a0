"""Errors of the analysis stage, under the project's roots (:mod:`processors.errors`)::

    PrismaflowError
    ├── ConfigurationError
    │   └── PromptRegistryError      a prompt file is missing, malformed or not in the lock
    │       └── PromptIntegrityError a prompt's content no longer matches its locked sha256
    └── InvalidRecordError
        └── AnalysisFailedError      the model's output stayed invalid after the one repair attempt

LLM transport failures are whatever the completion client raises (:mod:`processors.analyze.port`;
``connectors.llm`` raises the connector tree); the analysis service
(:class:`streams.analysis.service.AnalysisService`) turns them into an offline analysis instead of
raising.
"""

from __future__ import annotations

from processors.errors import (
    ConfigurationError,
    ExternalServiceError,
    InvalidRecordError,
)

__all__ = ["AnalysisFailedError", "ModelRefusedError", "PromptIntegrityError", "PromptRegistryError"]


class PromptRegistryError(ConfigurationError):
    """A prompt file is missing, malformed, or has no entry in ``registry.lock.json``."""


class PromptIntegrityError(PromptRegistryError):
    """A prompt's content changed without a new version: its sha256 differs from the lock."""


class AnalysisFailedError(InvalidRecordError):
    """The model answered twice (first try and repair) with output that is not a valid draft.

    ``reason`` holds the last validation error. The analysis service either falls back to the offline
    analyser (default) or, with ``dead_letter_invalid_output``, raises this for the worker to
    dead-letter the scored alert.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason, stage="analyse")


class ModelRefusedError(ExternalServiceError):
    """The model refused to answer (``message.refusal``); the refusal text is in ``refusal``."""

    def __init__(self, refusal: str) -> None:
        super().__init__(f"model refused: {refusal[:200]}")
        self.refusal = refusal
