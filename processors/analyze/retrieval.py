"""Retrieval over the team's own playbooks and standards: Okapi BM25 over heading-sized passages.

The Markdown files in ``processors/analyze/knowledge/`` are split at ``##`` headings; each passage
is cited as ``<file>#<heading-slug>`` (``Evidence(source="playbook", reference=...)``). The index is
built once at start-up from the documents' text (:meth:`KnowledgeBase.from_documents`; the files are
read by :mod:`streams.analysis.inputs`); a search is a pure function of the query.

BM25 is ~30 lines here rather than the ``rank-bm25`` package: the corpus is tiny, the scoring is
standard (Lucene's non-negative idf, k1=1.5, b=0.75), and owning it keeps the analyser typed and free
of a numpy dependency.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["KnowledgeBase", "Passage", "ScoredPassage", "split_passages", "tokenize"]

_WORD = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")
_STOP = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "will", "with", "not", "no", "must", "never", "every", "all", "any", "each", "when", "then", "than", "into", "only", "use", "used", "per", "via", "can", "may"]
)


def tokenize(text: str) -> list[str]:
    """Lower-case words without stop words, with a light plural strip (``buckets`` → ``bucket``)."""
    out: list[str] = []
    for word in _WORD.findall(text.lower()):
        if word in _STOP:
            continue
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
        if "-" in word or "_" in word:  # "ip-address" also matches "ip" and "address"
            out.extend(p for p in re.split(r"[-_.]", word) if p and p not in _STOP)
    return out


@dataclass(frozen=True)
class Passage:
    """One heading-sized section of a knowledge document."""

    id: str
    title: str
    heading: str
    text: str


@dataclass(frozen=True)
class ScoredPassage:
    passage: Passage
    score: float


def _slug(heading: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


def split_passages(name: str, markdown: str) -> list[Passage]:
    """The ``##`` sections of one document (text before the first one is skipped)."""
    title_match = re.search(r"^# (.+)$", markdown, re.MULTILINE)
    title = title_match.group(1).strip() if title_match else name
    passages: list[Passage] = []
    for block in re.split(r"^## ", markdown, flags=re.MULTILINE)[1:]:
        heading, _, body = block.partition("\n")
        passages.append(Passage(f"{name}#{_slug(heading)}", title, heading.strip(), " ".join(body.split())))
    return passages


class KnowledgeBase:
    """A BM25 index over passages."""

    def __init__(self, passages: Sequence[Passage], *, k1: float = 1.5, b: float = 0.75) -> None:
        self.passages = list(passages)
        self._k1, self._b = k1, b
        self._docs = [Counter(tokenize(f"{p.title} {p.heading} {p.heading} {p.text}")) for p in self.passages]
        self._lengths = [sum(d.values()) for d in self._docs]
        self._avg = (sum(self._lengths) / len(self._lengths)) if self._lengths else 0.0
        df: Counter[str] = Counter(term for doc in self._docs for term in doc)
        n = len(self._docs)
        self._idf = {t: math.log((n - c + 0.5) / (c + 0.5) + 1.0) for t, c in df.items()}

    @classmethod
    def from_documents(cls, documents: Iterable[tuple[str, str]]) -> KnowledgeBase:
        """Index the passages of ``(file name, markdown)`` documents, in the order given."""
        return cls([p for name, markdown in documents for p in split_passages(name, markdown)])

    def get(self, passage_id: str) -> Passage | None:
        return next((p for p in self.passages if p.id == passage_id), None)

    def search(self, query: str, *, k: int = 3, min_score: float = 1.0) -> list[ScoredPassage]:
        """The ``k`` best passages for ``query`` scoring at least ``min_score``, best first."""
        terms = set(tokenize(query))
        scored: list[ScoredPassage] = []
        for passage, doc, length in zip(self.passages, self._docs, self._lengths, strict=True):
            norm = self._k1 * (1 - self._b + self._b * length / self._avg) if self._avg else self._k1
            score = sum(
                self._idf[t] * doc[t] * (self._k1 + 1) / (doc[t] + norm) for t in terms if t in doc
            )
            if score >= min_score:
                scored.append(ScoredPassage(passage, round(score, 4)))
        scored.sort(key=lambda s: (-s.score, s.passage.id))
        return scored[:k]
