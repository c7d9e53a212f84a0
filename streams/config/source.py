"""The one place Prismaflow's settings are read: the environment and the secrets folder.

:class:`SectionedEnvironmentSource` is a pydantic-settings source. For every section of the root
model it looks up one environment variable per field, ``<section prefix><FIELD>`` in upper case
(``PRISMAFLOW_WORKER_MAX_BATCH``), and, when the environment does not set it, a file named like the
variable in lower case in the folder ``PRISMAFLOW_SECRETS_DIR`` names (``prismaflow_prisma_secret_key``,
the Docker/Kubernetes secrets convention): the environment wins over a file. Empty values count as
unset. A field that is a mapping (``dict[str, ...]``) is also filled entry by entry from variables
``<section prefix><FIELD>__<KEY>`` (key in lower case; ``KAFKA_CONFIG__SSL_CA_LOCATION`` gives
``config["ssl_ca_location"]``), the way pydantic-settings' ``env_nested_delimiter="__"`` would. It
also records where each value came from, which ``prismaflow config`` shows.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

__all__ = ["SECRETS_DIR_VARIABLE", "Origin", "Section", "SectionedEnvironmentSource", "sections_of", "secrets_dir"]

SECRETS_DIR_VARIABLE = "PRISMAFLOW_SECRETS_DIR"


class Origin(str, Enum):
    """Where the effective value of a setting came from."""

    DEFAULT = "default"
    ENVIRONMENT = "environment"
    SECRETS_FILE = "secrets file"


@dataclass(frozen=True)
class Section:
    """One section of the root settings model: its field name, title, variable prefix and model."""

    name: str
    title: str
    prefix: str
    model: type[BaseModel]

    def variable(self, field_name: str) -> str:
        """The environment variable of field ``field_name`` of this section."""
        return (self.prefix + field_name).upper()

    def variables(self) -> Iterator[tuple[str, str, FieldInfo]]:
        """``(variable, field name, field)`` for every field of the section, in declaration order."""
        for field_name, field in self.model.model_fields.items():
            yield self.variable(field_name), field_name, field

    def entry_prefixes(self) -> list[tuple[str, str]]:
        """``(variable prefix, field name)`` of the mapping fields: ``<VARIABLE>__<KEY>`` sets one entry."""
        return [(variable + "__", field_name) for variable, field_name, field in self.variables()
                if _is_mapping(field.annotation)]


def _is_mapping(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (dict, Mapping):
        return True
    return any(_is_mapping(argument) for argument in typing.get_args(annotation))  # dict[...] | None


def sections_of(root: type[BaseModel]) -> list[Section]:
    """The sections of ``root``: every field whose ``json_schema_extra`` names an ``env_prefix``."""
    found: list[Section] = []
    for name, field in root.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        prefix = extra.get("env_prefix")
        model = field.annotation
        if isinstance(prefix, str) and isinstance(model, type) and issubclass(model, BaseModel):
            found.append(Section(name=name, title=field.title or name, prefix=prefix, model=model))
    return found


def secrets_dir(environ: Mapping[str, str]) -> Path | None:
    """The secrets folder ``PRISMAFLOW_SECRETS_DIR`` names, when it is an existing folder."""
    folder = environ.get(SECRETS_DIR_VARIABLE)
    return Path(folder) if folder and Path(folder).is_dir() else None


class SectionedEnvironmentSource(PydanticBaseSettingsSource):
    """Every section's values from the environment (case-insensitive names) or the secrets folder."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None) -> None:
        super().__init__(settings_cls)
        source = os.environ if environ is None else environ
        self._environ = {name.upper(): value for name, value in source.items()}
        self._secrets = secrets_dir(source)
        self.origins: dict[str, Origin] = {}
        """Variable name to where its value came from, for the variables that were set (after a call)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: :meth:`__call__` reads whole sections (pydantic-settings asks for this method)."""
        return None, field_name, False

    def _lookup(self, variable: str) -> tuple[str, Origin] | None:
        value = self._environ.get(variable)
        if value:
            return value, Origin.ENVIRONMENT
        if self._secrets is not None:
            path = self._secrets / variable.lower()
            if path.is_file():
                text = path.read_text(encoding="utf-8").strip()
                if text:
                    return text, Origin.SECRETS_FILE
        return None

    def _entries(self, prefix: str) -> dict[str, str]:
        entries: dict[str, str] = {}
        for variable in sorted(self._environ):
            if variable.startswith(prefix) and len(variable) > len(prefix) and self._environ[variable]:
                entries[variable[len(prefix):].lower()] = self._environ[variable]
                self.origins[variable] = Origin.ENVIRONMENT
        return entries

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for section in sections_of(self.settings_cls):
            section_values: dict[str, Any] = {}
            for variable, field_name, _ in section.variables():
                found = self._lookup(variable)
                if found is not None:
                    section_values[field_name], self.origins[variable] = found
            for prefix, field_name in section.entry_prefixes():
                entries = self._entries(prefix)
                if entries and field_name not in section_values:
                    section_values[field_name] = entries
            if section_values:
                values[section.name] = section_values
        return values
