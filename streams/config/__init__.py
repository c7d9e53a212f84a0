"""The settings tree (:class:`PrismaflowSettings`), how it is read, and what ``prismaflow config`` shows."""

from __future__ import annotations

from streams.config.root import PrismaflowSettings, check_variables, known_variables, load_settings, sections

__all__ = ["PrismaflowSettings", "check_variables", "known_variables", "load_settings", "sections"]
