"""Render the configuration reference (every setting, its environment variable, its default) from
the settings tree, and the effective configuration (every setting's value in effect and its origin).

The README embeds the reference between markers; a test fails when the two differ, so the docs always
match the code. ``prismaflow config --reference`` prints it; ``prismaflow config`` prints the
effective values, secrets masked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from streams.config.root import GENERAL_VARIABLES, PrismaflowSettings, sections
from streams.config.source import Origin, Section, SectionedEnvironmentSource

__all__ = ["MASK", "EffectiveSetting", "effective_settings", "render_effective", "render_reference"]

MASK = "********"
_GENERAL_DEFAULTS = {"PRISMAFLOW_HOME": "./.prismaflow"}
_REPOSITORY = Path(__file__).resolve().parents[1]


def _default(section: Section, field_name: str, field: FieldInfo) -> str:
    if field_name not in section.defaults and field.default_factory is not None:
        return "(see description)"
    default = section.default(field_name)
    if default is PydanticUndefined:
        return "(required)"
    if default is None:
        return "(unset)"
    if isinstance(default, Enum):
        default = default.value
    if isinstance(default, Path) and default.is_relative_to(_REPOSITORY):
        default = default.relative_to(_REPOSITORY)  # files shipped in the package: not this checkout's path
    return f"`{default}`"


def render_reference() -> str:
    """The Markdown tables of every setting, one table per section of the tree."""
    lines: list[str] = ["#### General", "", "| Environment variable | Default | Description |", "| --- | --- | --- |"]
    for name, description in GENERAL_VARIABLES.items():
        default = f"`{_GENERAL_DEFAULTS[name]}`" if name in _GENERAL_DEFAULTS else "(unset)"
        lines.append(f"| `{name}` | {default} | {description} |")
    lines.append("")
    for section in sections():
        lines += [f"#### {section.title} (`{section.prefix}*`)", "",
                  "| Environment variable | Default | Description |", "| --- | --- | --- |"]
        for variable, field_name, field in section.variables():
            description = (field.description or "").replace("|", "\\|")
            lines.append(f"| `{variable}` | {_default(section, field_name, field)} | {description} |")
        lines.append("")
    return "\n".join(lines)


class EffectiveSetting(BaseModel):
    """One setting as it is in effect: its variable, its value (secrets masked), where it came from."""

    variable: str
    section: str
    value: str
    origin: Origin


_SECRET_KEY_WORDS = ("password", "secret", "token", "key", "credential")


def _shown(value: Any) -> str:
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, Mapping):  # e.g. passed-through client properties: mask what looks secret
        return ", ".join(f"{key}={MASK if any(word in str(key).lower() for word in _SECRET_KEY_WORDS) else _shown(item)}"
                         for key, item in value.items()) or "(none)"
    if value is None:
        return "(unset)"
    if value == "":
        return "(empty)"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Path) and value.is_relative_to(_REPOSITORY):
        return str(value.relative_to(_REPOSITORY))
    return str(value)


def effective_settings(environ: Mapping[str, str] | None = None) -> list[EffectiveSetting]:
    """Every setting of the tree built from ``environ`` (default: this process'), in reference order."""
    environ = os.environ if environ is None else environ
    source = SectionedEnvironmentSource(PrismaflowSettings, environ)
    settings = PrismaflowSettings.model_validate(source())
    rows: list[EffectiveSetting] = []
    for variable in GENERAL_VARIABLES:
        value = environ.get(variable)
        rows.append(EffectiveSetting(variable=variable, section="General",
                                     value=value or _GENERAL_DEFAULTS.get(variable, "(unset)"),
                                     origin=Origin.ENVIRONMENT if value else Origin.DEFAULT))
    for section in sections():
        values = getattr(settings, section.name)
        for variable, field_name, _ in section.variables():
            rows.append(EffectiveSetting(variable=variable, section=section.title,
                                         value=_shown(getattr(values, field_name)),
                                         origin=_origin(source.origins, variable)))
    return rows


def _origin(origins: Mapping[str, Origin], variable: str) -> Origin:
    """Where ``variable`` came from; a mapping set entry by entry (``<VARIABLE>__<KEY>``) from where its
    entries came (the environment wins when they came from both)."""
    if variable in origins:
        return origins[variable]
    entries = {origin for name, origin in origins.items() if name.startswith(variable + "__")}
    for origin in (Origin.ENVIRONMENT, Origin.SECRETS_FILE):
        if origin in entries:
            return origin
    return Origin.DEFAULT


def render_effective(rows: list[EffectiveSetting]) -> str:
    """The effective settings as aligned text, one section after another."""
    width = max(len(row.variable) for row in rows)
    lines: list[str] = []
    section = ""
    for row in rows:
        if row.section != section:
            section = row.section
            lines.append(("\n" if lines else "") + f"# {section}")
        lines.append(f"{row.variable:<{width}}  {row.value}  ({row.origin.value})")
    return "\n".join(lines) + "\n"
