"""The one rule for a connector's base-URL settings: an http(s) URL, kept without a trailing slash.

``HttpBaseUrl`` is a ``str`` field type carrying the check, so each connector's settings declare
``base_url: HttpBaseUrl = ...`` instead of repeating a validator; the paths the clients append
then never produce ``//``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

__all__ = ["HttpBaseUrl", "http_base_url"]


def http_base_url(value: str) -> str:
    """``value`` without trailing slashes; ``ValueError`` unless it is an http(s) URL."""
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL")
    return value.rstrip("/")


HttpBaseUrl = Annotated[str, AfterValidator(http_base_url)]
