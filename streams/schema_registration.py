"""``prismaflow schemas register|check``: the Schema Registry side of a deploy.

``register`` puts every schema under ``schemas/`` into the registry under its topics' subjects
(:mod:`streams.subjects`) and sets each subject's compatibility level
(``SCHEMA_REGISTRY_COMPATIBILITY``); producers then find their schemas with ``auto_register`` off.
Registering an unchanged schema again is a no-op in the registry, so the command is safe on every
deploy. ``check`` is the pre-deploy gate: it asks the registry whether each local schema is
compatible with the latest version registered under its subject, by that subject's rule, and
exits non-zero naming every subject that is not. See the README, "Evolving a schema".
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from processors.errors import ConfigurationError, ExternalServiceError
from schemas import load_schemas
from streams.config import PrismaflowSettings
from streams.subjects import Subject, catalogue_subjects, registry_schema_text

__all__ = ["Outcome", "SubjectResult", "check_schemas", "register_schemas", "run_schemas"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Outcome(enum.Enum):
    """What happened to one subject."""

    REGISTERED = "registered"
    """``register``: the schema is the subject's latest version (new or unchanged), level set."""
    REFUSED = "refused"
    """``register``: the registry refused the schema (incompatible with the subject's versions)."""
    COMPATIBLE = "compatible"
    """``check``: the schema is compatible with (or equal to) the latest registered version."""
    NEW = "new"
    """``check``: the subject has no version yet; ``register`` will create it."""
    INCOMPATIBLE = "incompatible"
    """``check``: the registry says the schema breaks the subject's compatibility rule."""

    @property
    def failed(self) -> bool:
        return self in (Outcome.REFUSED, Outcome.INCOMPATIBLE)


@dataclass(frozen=True)
class SubjectResult:
    """The outcome for one subject, with the registry's words (schema id, versions, reason)."""

    subject: Subject
    outcome: Outcome
    detail: str

    def line(self) -> str:
        mark = "FAIL" if self.outcome.failed else "ok  "
        return f"{mark} {self.subject.name:56} {self.subject.schema_name:20} {self.outcome.value}: {self.detail}"


def register_schemas(client: SchemaRegistryClient, subjects: Sequence[Subject], compatibility: str,
                     schemas: dict[str, dict[str, Any]] | None = None) -> list[SubjectResult]:
    """Register each subject's schema and set the subject's compatibility level.

    The schema is registered first (a new subject exists only then), the level second, so a new
    version of an existing subject is checked by the level the subject already has. Raises
    :class:`ExternalServiceError` when the registry cannot be reached or refuses our credentials.
    """
    texts = _texts(subjects, schemas)
    results: list[SubjectResult] = []
    for subject in subjects:
        schema = Schema(texts[subject.schema_name], "AVRO")
        try:
            schema_id = _call(lambda: client.register_schema(subject.name, schema), subject)
        except SchemaRegistryError as exc:
            results.append(SubjectResult(subject, Outcome.REFUSED, f"{exc.error_message} (HTTP {exc.http_status_code})"))
            continue
        _call(lambda: client.set_compatibility(subject.name, compatibility), subject)
        results.append(SubjectResult(subject, Outcome.REGISTERED, f"schema id {schema_id}, compatibility {compatibility}"))
        log.info("schema registered subject=%s schema_id=%s compatibility=%s", subject.name, schema_id, compatibility)
    return results


def check_schemas(client: SchemaRegistryClient, subjects: Sequence[Subject],
                  schemas: dict[str, dict[str, Any]] | None = None) -> list[SubjectResult]:
    """Ask the registry whether each subject's local schema may become its next version.

    Raises :class:`ExternalServiceError` when the registry cannot be reached.
    """
    texts = _texts(subjects, schemas)
    results: list[SubjectResult] = []
    for subject in subjects:
        schema = Schema(texts[subject.schema_name], "AVRO")
        try:
            latest = _call(lambda: client.get_latest_version(subject.name), subject)
        except SchemaRegistryError as exc:
            if exc.http_status_code != 404:
                raise ExternalServiceError(f"schema registry failed on subject {subject.name}: {exc}") from exc
            results.append(SubjectResult(subject, Outcome.NEW, "no version registered yet"))
            continue
        try:
            compatible = _call(lambda: client.test_compatibility(subject.name, schema, "latest"), subject)
        except SchemaRegistryError as exc:
            raise ExternalServiceError(f"schema registry failed on subject {subject.name}: {exc}") from exc
        outcome = Outcome.COMPATIBLE if compatible else Outcome.INCOMPATIBLE
        results.append(SubjectResult(subject, outcome, f"against version {latest.version} (schema id {latest.schema_id})"))
    return results


def run_schemas(action: str, settings: PrismaflowSettings) -> int:
    """The ``prismaflow schemas`` command: print one line per subject; 1 when any failed."""
    registry = settings.schema_registry
    if registry.url is None:
        raise ConfigurationError("SCHEMA_REGISTRY_URL is not set: without a registry, records carry Avro "
                                 "single-object encoding and there is nothing to register or check")
    subjects = catalogue_subjects(settings.worker.topic_prefix)
    with SchemaRegistryClient(registry.client_config()) as client:
        if action == "register":
            results = register_schemas(client, subjects, registry.compatibility)
        else:
            results = check_schemas(client, subjects)
    for result in results:
        print(result.line())
    failed = [result.subject.name for result in results if result.outcome.failed]
    if failed:
        print(f"{len(failed)} subject(s) failed: {', '.join(failed)}")
        return 1
    return 0


def _texts(subjects: Sequence[Subject], schemas: dict[str, dict[str, Any]] | None) -> dict[str, str]:
    loaded = load_schemas() if schemas is None else schemas
    missing = sorted({s.schema_name for s in subjects} - set(loaded))
    if missing:
        raise ConfigurationError(f"no local schema for {', '.join(missing)}")
    return {name: registry_schema_text(loaded[name]) for name in {s.schema_name for s in subjects}}


def _call(call: Callable[[], T], subject: Subject) -> T:
    """Run a registry call: its refusals (4xx) stay SchemaRegistryError, an unreachable or failing
    registry or refused credentials become :class:`ExternalServiceError`."""
    try:
        return call()
    except SchemaRegistryError as exc:
        if exc.http_status_code in (401, 403) or exc.http_status_code >= 500:
            raise ExternalServiceError(f"schema registry failed on subject {subject.name}: {exc}") from exc
        raise
    except Exception as exc:  # noqa: BLE001 - the HTTP client's transport errors (refused, TLS, timeout)
        raise ExternalServiceError(f"schema registry unreachable on subject {subject.name}: {exc!r}") from exc
