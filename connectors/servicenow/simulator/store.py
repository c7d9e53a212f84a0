"""The simulator's records: tables, business rules, journals and the encoded-query subset.

Everything the Table API stores is a string (``"active": "false"``, ``"impact": "2"``), as on a
real instance. Business rules follow the reference's checklist: priority computed from
impact x urgency, ``incident_state`` mirroring ``state``, close code and notes required to resolve
(a data policy, switchable), ``active`` false once closed or canceled, journal fields that read
back as ``""`` while their text lands in ``sys_journal_field``.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TABLES", "PolicyViolation", "Query", "RecordStore", "TableSpec", "parse_query"]

_TASK_FIELDS = (
    "sys_id", "number", "short_description", "description", "state", "active", "impact",
    "urgency", "priority", "category", "subcategory", "assignment_group", "assigned_to",
    "caller_id", "opened_by", "opened_at", "resolved_at", "resolved_by", "closed_at", "closed_by",
    "close_code", "close_notes", "work_notes", "comments", "correlation_id",
    "correlation_display", "hold_reason", "sys_created_on", "sys_updated_on", "sys_created_by",
    "sys_updated_by", "sys_mod_count",
)
_JOURNAL = ("work_notes", "comments")
#: Default Priority Lookup Rules: (impact, urgency) -> priority.
_PRIORITY = {("1", "1"): "1", ("1", "2"): "2", ("2", "1"): "2", ("1", "3"): "3", ("2", "2"): "3",
             ("3", "1"): "3", ("2", "3"): "4", ("3", "2"): "4", ("3", "3"): "5"}


@dataclass(frozen=True)
class TableSpec:
    """How one table numbers, defaults and validates its records."""

    name: str
    prefix: str
    fields: tuple[str, ...]
    states: frozenset[str] = frozenset()
    default_state: str = ""
    resolving: frozenset[str] = frozenset()  # states needing close_code + close_notes
    inactive: frozenset[str] = frozenset()  # states that set active=false
    final: frozenset[str] = frozenset()  # no state change out of these
    on_hold: str | None = None
    references: tuple[str, ...] = ("assignment_group", "assigned_to", "caller_id", "opened_by")


TABLES: dict[str, TableSpec] = {
    "incident": TableSpec(
        "incident", "INC", (*_TASK_FIELDS, "incident_state"),
        states=frozenset({"1", "2", "3", "4", "5", "6", "7", "8"}), default_state="1",
        resolving=frozenset({"6", "7"}), inactive=frozenset({"7", "8"}),
        final=frozenset({"7", "8"}), on_hold="3",
    ),
    "sn_si_incident": TableSpec(
        "sn_si_incident", "SIR",
        (*_TASK_FIELDS, "affected_user", "attack_vector", "business_criticality", "risk_score",
         "substate", "parent_security_incident", "severity"),
        states=frozenset({"10", "16", "18", "19", "20", "100", "3", "7"}), default_state="10",
        resolving=frozenset({"3"}), inactive=frozenset({"3", "7"}), final=frozenset({"7"}),
    ),
    "sys_user": TableSpec("sys_user", "", ("sys_id", "user_name", "name", "email", "active",
                                           "sys_created_on", "sys_updated_on", "sys_mod_count"),
                          references=()),
    "sys_user_group": TableSpec("sys_user_group", "", ("sys_id", "name", "active",
                                                       "sys_created_on", "sys_updated_on",
                                                       "sys_mod_count"), references=()),
    "sys_journal_field": TableSpec("sys_journal_field", "", (
        "sys_id", "element", "element_id", "name", "value", "sys_created_on", "sys_created_by",
        "sys_updated_on", "sys_mod_count"), references=()),
}


class PolicyViolation(Exception):
    """A write a business rule or data policy refuses; becomes the failure envelope."""

    def __init__(self, status: int, message: str, detail: str) -> None:
        super().__init__(message)
        self.status, self.message, self.detail = status, message, detail


# -- encoded queries ------------------------------------------------------------------------------

_UNARY = re.compile(r"^([a-z0-9_.]+)(ISNOTEMPTY|ISEMPTY)$")
_BINARY = re.compile(
    r"^([a-z0-9_.]+)(!=|>=|<=|=|<|>|NOT LIKE|LIKE|STARTSWITH|ENDSWITH|NOT IN|IN)(.*)$"
)


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: str = ""

    def test(self, record: dict[str, str]) -> bool:
        have = record.get(self.field, "")
        v = self.value
        tests: dict[str, Callable[[], bool]] = {
            "=": lambda: have == v, "!=": lambda: have != v,
            "LIKE": lambda: v in have, "NOT LIKE": lambda: v not in have,
            "STARTSWITH": lambda: have.startswith(v), "ENDSWITH": lambda: have.endswith(v),
            "IN": lambda: have in v.split(","), "NOT IN": lambda: have not in v.split(","),
            "ISEMPTY": lambda: have == "", "ISNOTEMPTY": lambda: have != "",
            "<": lambda: _cmp(have, v) < 0, ">": lambda: _cmp(have, v) > 0,
            "<=": lambda: _cmp(have, v) <= 0, ">=": lambda: _cmp(have, v) >= 0,
        }
        return tests[self.op]()


def _cmp(left: str, right: str) -> int:
    """Numeric comparison when both sides are numbers, else by text (dates sort as text)."""
    try:
        a, b = float(left), float(right)
    except ValueError:
        return (left > right) - (left < right)
    return (a > b) - (a < b)


@dataclass
class Query:
    """A parsed ``sysparm_query``: AND of OR-groups, then an ordering."""

    groups: list[list[Clause]] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    invalid: list[str] = field(default_factory=list)

    def matches(self, record: dict[str, str]) -> bool:
        return all(any(c.test(record) for c in group) for group in self.groups)


def parse_query(text: str, known_fields: tuple[str, ...]) -> Query:
    """Parse the subset: ``=``/``!=``/``LIKE``/``STARTSWITH``/``ENDSWITH``/``IN``/``ISEMPTY``/...,
    ``^`` (AND), ``^OR`` (binds tighter), ``ORDERBY``/``ORDERBYDESC``. Parts naming unknown
    fields or with no operator are collected in ``invalid`` (the caller ignores them, or returns
    no rows when ``glide.invalid_query.returns_no_rows`` is simulated).
    """
    query = Query()
    for part in (p for p in text.split("^") if p):
        joined_or = part.startswith("OR") and not part.startswith("ORDERBY")
        if joined_or:
            part = part[2:]
        if part.startswith("ORDERBYDESC"):
            query.order.append((part[len("ORDERBYDESC"):], True))
            continue
        if part.startswith("ORDERBY"):
            query.order.append((part[len("ORDERBY"):], False))
            continue
        m = _UNARY.match(part) or _BINARY.match(part)
        if m is None or m.group(1) not in known_fields:
            query.invalid.append(part)
            continue
        clause = Clause(m.group(1), m.group(2), m.group(3) if m.lastindex == 3 else "")
        if joined_or and query.groups:
            query.groups[-1].append(clause)
        else:
            query.groups.append([clause])
    return query


# -- the store ------------------------------------------------------------------------------------


def _stamp(now: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))


class RecordStore:
    """All tables' records, keyed by table then sys_id, in insertion order."""

    def __init__(self, clock: Callable[[], float], *, require_close_fields: bool = True,
                 installed: frozenset[str] = frozenset(TABLES)) -> None:
        self.clock = clock
        self.require_close_fields = require_close_fields
        self.installed = installed
        self.tables: dict[str, dict[str, dict[str, str]]] = {t: {} for t in TABLES}
        self._numbers: dict[str, int] = {}

    def spec(self, table: str) -> TableSpec | None:
        return TABLES.get(table) if table in self.installed else None

    def insert(self, table: str, values: dict[str, Any], user: str) -> dict[str, str]:
        """Create a record (POST). Unknown columns are ignored, as the platform does."""
        spec = TABLES[table]
        now = _stamp(self.clock())
        record = {name: "" for name in spec.fields}
        record.update({"sys_id": secrets.token_hex(16), "active": "true", "sys_mod_count": "0",
                       "sys_created_on": now, "sys_updated_on": now, "sys_created_by": user,
                       "sys_updated_by": user})
        if spec.prefix:
            n = self._numbers.get(table, 10000) + 1
            self._numbers[table] = n
            record.update({"number": f"{spec.prefix}{n:07d}", "opened_at": now,
                           "opened_by": user, "state": spec.default_state})
            if table == "incident":
                record.update({"impact": "3", "urgency": "3"})
        notes = self._assign(spec, record, values, user, creating=True)
        self.tables[table][record["sys_id"]] = record
        self._journal(table, record["sys_id"], notes, user)
        return record

    def update(self, table: str, sys_id: str, values: dict[str, Any], user: str) -> dict[str, str]:
        """PATCH/PUT a record; raises :class:`KeyError` if missing, PolicyViolation if refused."""
        spec = TABLES[table]
        record = self.tables[table][sys_id]
        candidate = dict(record)
        notes = self._assign(spec, candidate, values, user, creating=False)
        candidate["sys_mod_count"] = str(int(record["sys_mod_count"] or 0) + 1)
        candidate["sys_updated_on"] = _stamp(self.clock())
        candidate["sys_updated_by"] = user
        record.clear()
        record.update(candidate)
        self._journal(table, sys_id, notes, user)
        return record

    def _assign(self, spec: TableSpec, record: dict[str, str], values: dict[str, Any], user: str,
                *, creating: bool) -> dict[str, str]:
        old_state = record.get("state", "")
        notes = {}
        for name, value in values.items():
            if name in ("sys_id", "number", "sys_mod_count") or name not in spec.fields:
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            else:
                text = value if isinstance(value, str) else str(value)
            if name in _JOURNAL:
                if text:
                    notes[name] = text
                continue
            record[name] = text
        if not spec.prefix:
            return notes
        state = record["state"]
        if state != old_state or creating:
            self._check_state(spec, record, old_state, creating)
        if state in spec.inactive:
            record["active"] = "false"
        elif state != old_state:
            record["active"] = "true"
        record["priority"] = _PRIORITY.get((record["impact"], record["urgency"]), "5")
        if spec.name == "incident":
            record["incident_state"] = state
        return notes

    def _check_state(self, spec: TableSpec, record: dict[str, str], old: str,
                     creating: bool) -> None:
        state = record["state"]
        now = _stamp(self.clock())
        if state not in spec.states:
            raise PolicyViolation(400, "Invalid state", f"state {state!r} is not a choice of "
                                  f"{spec.name}")
        if not creating and old in spec.final and state != old:
            raise PolicyViolation(403, "Operation Failed",
                                  "ACL Exception Update Failed due to security constraints")
        if spec.on_hold and state == spec.on_hold and not record.get("hold_reason"):
            raise PolicyViolation(403, "Operation Failed", "Data Policy Exception: The following "
                                  "fields are mandatory: On hold reason")
        if state in spec.resolving:
            missing = [label for name, label in (("close_code", "Resolution code"),
                                                 ("close_notes", "Resolution notes"))
                       if not record.get(name)]
            if missing and self.require_close_fields:
                raise PolicyViolation(403, "Operation Failed", "Data Policy Exception: The "
                                      f"following fields are mandatory: {', '.join(missing)}")
            record["resolved_at"] = record["resolved_at"] or now
        else:
            record["resolved_at"] = ""
        record["closed_at"] = now if state in spec.inactive else ""

    def _journal(self, table: str, sys_id: str, notes: dict[str, str], user: str) -> None:
        now = _stamp(self.clock())
        for element, text in notes.items():
            entry = {"sys_id": secrets.token_hex(16), "element": element, "element_id": sys_id,
                     "name": table, "value": text, "sys_created_on": now,
                     "sys_created_by": user, "sys_updated_on": now, "sys_mod_count": "0"}
            self.tables["sys_journal_field"][entry["sys_id"]] = entry

    def journal(self, sys_id: str, element: str = "work_notes") -> list[str]:
        """The journal texts written to a record, oldest first (for tests)."""
        return [e["value"] for e in self.tables["sys_journal_field"].values()
                if e["element_id"] == sys_id and e["element"] == element]
