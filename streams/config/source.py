"""The one place Prismaflow's settings are read: the environment and the secrets folder.

:class:`SectionedEnvironmentSource` is a pydantic-settings source. For every section of the root
model it looks up one environment variable per field, ``<section prefix><FIELD>`` in upper case
(``PRISMAFLOW_WORKER_MAX_BATCH``), and, when the environment does not set it, a file named like the
variable in lower case in the folder ``PRISMAFLOW_SECRETS_DIR`` names (``prismaflow_prisma_secret_key``,
the Docker/Kubernetes secrets convention): the environment wins over a file. Empty values count as
unset. A field that is a mapping (``dict[str, ...]``) is also filled entry by entry from variables
``<section prefix><FIELD>__<KEY>`` (key in lower case; ``KAFKA_CONFIG__SSL_CA_LOCATION`` gives
``config["ssl_ca_location"]``), the way pydantic-settings' ``env_nested_delimiter="__"`` would, and
from files ``<section prefix><field>__<key>`` in lower case in the secrets folder (a retired signing key
in ``prismaflow_remediation_previous_signing_keys__k1``; a variable wins over a file). It
also records where each value came from, which ``prismaflow config`` shows.

A section is a component's own model (a connector's client settings, a stage's settings), so the tree
binds it to the environment rather than the model knowing its variables: a section may name a field's
variable differently (``PrismaSettings.username`` is ``PRISMAFLOW_PRISMA_ACCESS_KEY_ID``, the name in
Prisma Cloud's console) and give the deployment's own defaults (the local simulators' addresses and
credentials) where they differ from the model's. Only fields one variable can hold are settings
(text, numbers, booleans, paths, secrets, enumerations, optional ones of these, and mappings entry by
entry); nested models such as a retry policy or a routing table keep the component's default.
"""

from __future__ import annotations

import os
import types
import typing
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

__all__ = ["SECRETS_DIR_VARIABLE", "Origin", "Section", "SectionedEnvironmentSource", "is_setting", "section_field",
           "sections_of", "secrets_dir"]

SECRETS_DIR_VARIABLE = "PRISMAFLOW_SECRETS_DIR"


class Origin(str, Enum):
    """Where the effective value of a setting came from."""

    DEFAULT = "default"
    ENVIRONMENT = "environment"
    SECRETS_FILE = "secrets file"


@dataclass(frozen=True)
class Section:
    """One section of the root settings model: its field name, title, variable prefix and model, the
    variable names that differ from the field names (``names``: field to name after the prefix) and
    the deployment's defaults that differ from the model's (``defaults``: field to value)."""

    name: str
    title: str
    prefix: str
    model: type[BaseModel]
    names: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def variable(self, field_name: str) -> str:
        """The environment variable of field ``field_name`` of this section."""
        return (self.prefix + self.names.get(field_name, field_name)).upper()

    def variables(self) -> Iterator[tuple[str, str, FieldInfo]]:
        """``(variable, field name, field)`` for every setting of the section (its fields one variable
        can hold, see :func:`is_setting`), in declaration order."""
        for field_name, info in self.model.model_fields.items():
            if is_setting(info.annotation):
                yield self.variable(field_name), field_name, info

    def entry_prefixes(self) -> list[tuple[str, str]]:
        """``(variable prefix, field name)`` of the mapping fields: ``<VARIABLE>__<KEY>`` sets one entry."""
        return [(variable + "__", field_name) for variable, field_name, info in self.variables()
                if _is_mapping(info.annotation)]

    def default(self, field_name: str) -> Any:
        """The default of field ``field_name`` in this tree: the section's own, else the model's
        (``PydanticUndefined`` for a required field)."""
        if field_name in self.defaults:
            return self.defaults[field_name]
        info = self.model.model_fields[field_name]
        return info.default if info.default_factory is None else info.get_default(call_default_factory=True)


#: Types one variable's text can hold.
_SCALARS: tuple[type, ...] = (str, int, float, bool, Path, SecretStr, uuid.UUID, Enum)


def is_setting(annotation: Any) -> bool:
    """True when a field of this type can be set from variables: a scalar (text, number, boolean,
    path, secret, UUID, enumeration, literal), an optional one, or a mapping (entry by entry)."""
    if _is_mapping(annotation):
        return True
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return True
    if origin is Annotated:  # a constrained type inside an optional one (``HttpBaseUrl | None``)
        return is_setting(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        arguments = [argument for argument in typing.get_args(annotation) if argument is not type(None)]
        return bool(arguments) and all(is_setting(argument) for argument in arguments)
    return isinstance(annotation, type) and issubclass(annotation, _SCALARS)


def _is_mapping(annotation: Any) -> bool:
    """True for a mapping of text to scalars (``dict[str, str]``, optional or not): variables
    ``<VARIABLE>__<KEY>`` fill it entry by entry (keys in lower case)."""
    origin = typing.get_origin(annotation)
    if origin in (dict, Mapping):
        key, value = typing.get_args(annotation) or (Any, Any)
        return key in (str, Any) and (value is Any or (not _is_mapping(value) and is_setting(value)))
    if origin in (typing.Union, types.UnionType):  # dict[...] | None
        return any(_is_mapping(argument) for argument in typing.get_args(annotation))
    return False


def section_field(model: type[BaseModel], prefix: str, title: str, *, names: Mapping[str, str] | None = None,
                  defaults: Mapping[str, Any] | None = None) -> Any:
    """A section field of a root model: ``model``, filled from variables ``<prefix><FIELD>`` (or
    ``<prefix><names[field]>``), with ``defaults`` over the model's own."""
    own_defaults = dict(defaults or {})
    return Field(default_factory=lambda: model.model_validate(own_defaults), title=title,
                 json_schema_extra={"env_prefix": prefix, "env_names": dict(names or {}),
                                    "env_defaults": own_defaults})


def sections_of(root: type[BaseModel]) -> list[Section]:
    """The sections of ``root``: every field whose ``json_schema_extra`` names an ``env_prefix``."""
    found: list[Section] = []
    for name, info in root.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        prefix = extra.get("env_prefix")
        names = extra.get("env_names")
        defaults = extra.get("env_defaults")
        model = info.annotation
        if isinstance(prefix, str) and isinstance(model, type) and issubclass(model, BaseModel):
            found.append(Section(name=name, title=info.title or name, prefix=prefix, model=model,
                                 names={str(key): str(value) for key, value in names.items()}
                                 if isinstance(names, dict) else {},
                                 defaults=defaults if isinstance(defaults, dict) else {}))
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
        """A mapping's entries: ``<prefix><KEY>`` variables, and ``<prefix><key>`` files in the secrets folder
        (the variable wins over a file for the same key)."""
        entries: dict[str, str] = {}
        if self._secrets is not None:
            for path in sorted(self._secrets.glob(f"{prefix.lower()}?*")):
                text = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
                if text:
                    entries[path.name[len(prefix):].lower()] = text
                    self.origins[path.name.upper()] = Origin.SECRETS_FILE
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
            if section_values or section.defaults:
                values[section.name] = {**section.defaults, **section_values}
        return values
