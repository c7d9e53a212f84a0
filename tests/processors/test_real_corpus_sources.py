"""SOURCES.md's counts table says what the real-payload corpus holds, so it cannot drift from it.

The table (``## Counts (N samples: R real from P publishers, C constructed)``, one row per publisher
plus the constructed row, one column per input kind) is what a reader checks to see how much of the
corpus is real. These tests recount it from ``expectations.yaml`` and the files, so a sample added
or relabelled without updating the table fails here instead of misleading the next reader.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.processors.real_corpus import CORPUS, samples

#: Column heading of the counts table -> the RawAlert source those samples are read as.
COLUMNS = {"CSPM API": "cspm_api", "CSPM webhook": "cspm_webhook",
           "Compute API": "compute_api", "Compute webhook": "compute_webhook"}
HEADLINE = re.compile(r"^## Counts \((\d+) samples: (\d+) real from (\d+) publishers, (\d+) constructed\)$",
                      re.MULTILINE)


def _counts_section() -> tuple[re.Match[str], list[str]]:
    """The headline match and the Markdown table lines that follow it."""
    text = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    headline = HEADLINE.search(text)
    assert headline, "SOURCES.md has no '## Counts (N samples: R real from P publishers, C constructed)' headline"
    lines = text[headline.end():].lstrip("\n").splitlines()
    table = []
    for line in lines:
        if not line.startswith("|"):
            break
        table.append(line)
    return headline, table


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _rows() -> dict[str, dict[str, int]]:
    """Each table row's label -> {column heading: count}, the ``Total`` column included."""
    _, table = _counts_section()
    header = _cells(table[0])
    assert header[1:] == [*COLUMNS, "Total"], f"unexpected counts columns {header[1:]}"
    rows = {}
    for line in table[2:]:  # table[1] is the |---| separator
        label, *numbers = _cells(line)
        rows[label] = {column: int(value) for column, value in zip(header[1:], numbers, strict=True)}
    return rows


def _constructed_label(rows: dict[str, dict[str, int]]) -> str:
    (label,) = [label for label in rows if label.startswith("constructed")]
    return label


def test_the_headline_counts_are_the_corpus_counts() -> None:
    headline, _ = _counts_section()
    total, real, publishers, constructed = (int(group) for group in headline.groups())
    names = [s.name for s in samples()]
    built = sum(name.startswith("constructed/") for name in names)
    rows = _rows()
    assert (total, constructed, real) == (len(names), built, len(names) - built)
    assert publishers == len(rows) - 1  # one row per real publisher, plus the constructed row


@pytest.mark.parametrize("column", [*COLUMNS, "Total"])
def test_each_column_adds_up_to_the_samples_of_its_kind(column: str) -> None:
    by_source = Counter(s.source.value for s in samples())
    expected = sum(by_source.values()) if column == "Total" else by_source[COLUMNS[column]]
    assert sum(row[column] for row in _rows().values()) == expected


def test_each_row_total_is_the_sum_of_its_kinds() -> None:
    for label, row in _rows().items():
        assert row["Total"] == sum(row[column] for column in COLUMNS), label


def test_the_constructed_row_counts_the_constructed_folder() -> None:
    rows = _rows()
    built = Counter(s.source.value for s in samples() if s.name.startswith("constructed/"))
    row = rows[_constructed_label(rows)]
    assert {column: row[column] for column in COLUMNS} == {column: built[source] for column, source in COLUMNS.items()}
