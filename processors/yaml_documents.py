"""Reading a YAML configuration document into its pydantic model, with one error shape.

The policy, owner map and scenario files are all loaded once at start-up the same way: YAML that
cannot be parsed and a document that does not validate both become a :class:`ConfigurationError`
naming the file, so a bad file stops the process with a message a person can act on.
"""

from __future__ import annotations

from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from processors.errors import ConfigurationError

__all__ = ["parse_yaml_document"]

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_yaml_document(
    text: str, model: type[ModelT], what: str, *, plural: bool = False, if_empty: Any = None,
) -> ModelT:
    """``text`` parsed as YAML and validated as ``model``.

    ``what`` names the document in errors (``"scoring policy policies/scoring.yaml"``); ``plural``
    says it is named in the plural ("are invalid"); ``if_empty``, when given, stands for an empty
    (falsy) document.
    """
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{what} cannot be read: {exc}") from exc
    if if_empty is not None and not doc:
        doc = if_empty
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise ConfigurationError(f"{what} {'are' if plural else 'is'} invalid: {exc}") from exc
