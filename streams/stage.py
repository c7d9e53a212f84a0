"""What a stream stage is to the worker that runs it: the :class:`Stage` contract and the
:class:`InputMessage` it is handed with each record.

Pure logic lives in ``processors/``; a stage adapts it to records. The worker
(:class:`streams.worker.TransactionalWorker`) owns everything Kafka: it decodes, calls
:meth:`Stage.handle`, and writes the outputs, the state changes and the input offsets in one
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from pydantic import BaseModel

from streams.publish import OutgoingRecord
from streams.state_store import StateStore

__all__ = ["InputMessage", "Stage"]

In = TypeVar("In", bound=BaseModel)


@dataclass(frozen=True)
class InputMessage:
    """Where a consumed record came from, with its original bytes (for the dead-letter topic)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    timestamp_ms: int


class Stage(Protocol[In]):
    """One processing step run by the worker, exactly once per input record.

    ``handle`` returns the records to write. It raises for a record it cannot process; the worker
    dead-letters that record. A stateful stage declares its :class:`~streams.state_store.StateStore`
    as ``state`` (None: stateless) and reads and changes it through
    ``state.partition(message.partition)``; the worker restores partitions from the changelog when
    they are assigned or a transaction is aborted, and writes the store's changes in the
    transaction. A stage must not change its state before it knows the record succeeds (compute the
    new state, then keep it).

    A stage whose input topic carries more than one record type may also define
    ``decode(message: InputMessage) -> record``; the worker then calls it instead of decoding
    ``input_model`` (the fused core reads its own asset-graph messages from the raw topic).

    A stage that keeps something derived from its outputs outside the state store (an audit chain's
    next sequence and hash, a set of requests it has run) may define ``discard_uncommitted() -> None``:
    the worker calls it whenever it throws outputs away (an aborted transaction, a batch processed
    again one record at a time), and the stage goes back to what is committed on the topics.
    """

    name: str
    input_topic: str
    input_model: type[In]
    state: StateStore | None

    def handle(self, record: In, message: InputMessage) -> Sequence[OutgoingRecord]: ...
