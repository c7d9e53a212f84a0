"""Injected faults: what ``POST /_sim/faults`` accepts, and which request a fault hits.

Every simulator lets a test make it misbehave for a while: answer 5xx or 429, answer slowly, or
(Prisma Cloud) expire its tokens. A :class:`Fault` says what and where; it lasts ``count`` calls,
or, with ``duration_s``, that many seconds of simulator time from when it was added ("Jira is down
for a minute"). A :class:`FaultBook` holds a simulator's pending faults and hands the first one
that matches a request to the simulator, which turns it into an answer in its own API's dialect
(the one part that differs per simulator). :class:`FaultRules` says which JSON a simulator's admin
API accepts, so each keeps its documented fault format.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["Fault", "FaultBook", "FaultRules", "retry_after_header", "wait_out"]

_NUMBERS: dict[str, type] = {"count": int, "status": int, "duration_s": float, "delay_s": float,
                             "retry_after_s": float}


@dataclass
class Fault:
    """One injected misbehaviour on ``route`` (a template, a path, a route name or ``*``).

    ``kind`` is the simulator's own word for it (``"5xx"``, ``"429"``, ``"slow"``, ``"busy"``, ...);
    ``status`` and ``body`` are what a fault that names a plain answer answers; ``until`` is filled
    in when a timed fault is added.
    """

    kind: str = "5xx"
    route: str = "*"
    count: int = 1
    status: int = 503
    duration_s: float | None = None
    delay_s: float = 0.0
    retry_after_s: float | None = None
    method: str | None = None
    body: str = ""
    until: float | None = None

    def matches(self, method: str, names: tuple[str, ...]) -> bool:
        """True when this fault applies to a ``method`` call of a route known by ``names``."""
        if self.method and self.method.upper() != method:
            return False
        return self.route == "*" or self.route in names

    def spent(self, now: float) -> bool:
        """True once a timed fault's time is up, or a counted fault's calls are used."""
        if self.duration_s is not None:
            return self.until is not None and now >= self.until
        return self.count <= 0


_ATTRIBUTES = frozenset(f.name for f in fields(Fault)) - {"until"}


@dataclass(frozen=True)
class FaultRules:
    """The fault JSON one simulator's admin API accepts.

    ``fields`` are the JSON keys, in the order ``GET /_sim/stats`` shows them; ``renames`` maps a
    key to the :class:`Fault` attribute it sets (Slack's ``target`` is the route); ``kinds`` lists
    the allowed kinds (None: any); ``required`` keys must be present; with ``strict`` unknown keys
    are refused, else ignored; ``check`` returns why an otherwise well-formed fault is refused.
    """

    kinds: frozenset[str] | None
    fields: tuple[str, ...]
    renames: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    strict: bool = True
    check: Callable[[Fault], str | None] | None = None

    def attribute(self, key: str) -> str:
        return self.renames.get(key, key)

    def parse(self, raw: Any) -> Fault:
        """The fault ``raw`` describes; ValueError (the admin API's 400) when it is not one."""
        if not isinstance(raw, dict):
            raise ValueError(f"bad fault {raw!r}")
        unknown = set(raw) - set(self.fields)
        missing = [key for key in self.required if key not in raw]
        if (unknown and self.strict) or missing:
            raise ValueError(f"bad fault {raw!r}")
        values: dict[str, Any] = dict(self.defaults)
        for key in self.fields:
            if key in raw:
                attribute = self.attribute(key)
                convert = _NUMBERS.get(attribute)
                value = raw[key]
                values[attribute] = convert(value) if convert and value is not None else value
        if self.kinds is not None and values.get("kind") not in self.kinds:
            raise ValueError(f"bad fault {raw!r}")
        fault = Fault(**{k: v for k, v in values.items() if k in _ATTRIBUTES})
        problem = self.check(fault) if self.check else None
        if problem:
            raise ValueError(problem)
        return fault

    def as_json(self, fault: Fault) -> dict[str, Any]:
        return {key: getattr(fault, self.attribute(key)) for key in self.fields}


class FaultBook:
    """A simulator's pending faults, on the simulator's clock.

    ``pending`` is a plain list (tests may append a :class:`Fault` directly); ``applied`` counts the
    faults served, by kind.
    """

    def __init__(self, rules: FaultRules, clock: Callable[[], float]) -> None:
        self.rules = rules
        self.clock = clock
        self.pending: list[Fault] = []
        self.applied: Counter[str] = Counter()

    def parse(self, raw: Any) -> list[Fault]:
        """One fault object or a list of them, as ``POST /_sim/faults`` takes them."""
        return [self.rules.parse(item) for item in (raw if isinstance(raw, list) else [raw])]

    def add(self, fault: Fault) -> None:
        """Queue ``fault``; a timed one starts now on the simulator clock."""
        if fault.duration_s is not None:
            fault.until = self.clock() + fault.duration_s
        self.pending.append(fault)

    def take(self, method: str, *names: str) -> Fault | None:
        """The first pending fault for this call (a counted one is used up by one), or None."""
        now = self.clock()
        self.pending[:] = [f for f in self.pending if not f.spent(now)]
        for fault in self.pending:
            if fault.matches(method, names):
                if fault.duration_s is None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.pending.remove(fault)
                self.applied[fault.kind] += 1
                return fault
        return None

    def clear(self) -> None:
        self.pending.clear()

    def as_json(self) -> list[dict[str, Any]]:
        return [self.rules.as_json(fault) for fault in self.pending]


def retry_after_header(fault: Fault) -> dict[str, str]:
    """``Retry-After`` when the fault names one (as the real services send it on 429 and 503)."""
    return {"Retry-After": f"{fault.retry_after_s:g}"} if fault.retry_after_s is not None else {}


async def wait_out(fault: Fault) -> None:
    """Answer late: a ``slow`` fault's delay, on the event loop (the client's timeout sees it)."""
    await asyncio.sleep(fault.delay_s)
