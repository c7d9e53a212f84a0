"""Render the configuration reference (every setting, its environment variable, its default).

The README embeds this table between markers; a test fails when the two differ, so the docs always
match the code. ``prismaflow config`` prints it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

__all__ = ["render_reference", "settings_models"]


def settings_models() -> list[type]:
    """Every settings model of every component, in reference order."""
    from streams.settings import all_settings_models

    return list(all_settings_models())


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "(see description)"
    if field.default is PydanticUndefined:
        return "(required)"
    if field.default is None:
        return "(unset)"
    default = field.default
    if isinstance(default, Path):  # files shipped in the package: show where, not this checkout's path
        root = Path(__file__).resolve().parents[1]
        if default.is_relative_to(root):
            default = default.relative_to(root)
    return f"`{default}`"


def render_reference() -> str:
    """The Markdown tables of every setting, one table per component."""
    lines: list[str] = [
        "#### General",
        "",
        "| Environment variable | Default | Description |",
        "| --- | --- | --- |",
        "| `PRISMAFLOW_HOME` | `./.prismaflow` | Folder for local state: broker data, logs, checkpoints of the demo |",
        "| `PRISMAFLOW_SECRETS_DIR` | (unset) | Folder of secret files, one per setting, named like the variable in lower case (e.g. `kafka_sasl_password`); the environment wins over a file |",
        "",
    ]
    for model in settings_models():
        config = getattr(model, "model_config", {})
        prefix = str(config.get("env_prefix", ""))
        lines.append(f"#### {getattr(model, 'component', model.__name__)} (`{prefix}*`)")
        lines.append("")
        lines.append("| Environment variable | Default | Description |")
        lines.append("| --- | --- | --- |")
        for name, field in model.model_fields.items():  # type: ignore[attr-defined]
            description = (field.description or "").replace("|", "\\|")
            lines.append(f"| `{(prefix + name).upper()}` | {_default(field)} | {description} |")
        lines.append("")
    return "\n".join(lines)
