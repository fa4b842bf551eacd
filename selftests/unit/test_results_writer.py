"""results.json written piece by piece (report.write_json) is the document dumps() makes:
one top-level field per line, one result and one exchange per line, whatever the number of
rows against the size of a piece."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dkimwatch.report import ROWS_PER_PIECE, dumps, write_json


def _doc(rows: int, exchanges: int) -> dict[str, object]:
    return {
        "tool": "dkimwatch",
        "summary": {"passed": rows},
        "results": [{"nodeid": f"t::{i}", "message": 'é → \u2028 "q"'} for i in range(rows)],
        "evidence": {
            f"e{i}": {"qname": f"n{i}.example", "answers": ["<x>"]} for i in range(exchanges)
        },
        "changes": None,
    }


@pytest.mark.parametrize(
    ("rows", "exchanges"),
    [
        (0, 0),
        (1, 1),
        (ROWS_PER_PIECE, ROWS_PER_PIECE - 1),
        (2 * ROWS_PER_PIECE + 3, ROWS_PER_PIECE + 1),
    ],
)
def test_written_in_pieces_as_dumps_makes_it(tmp_path: Path, rows: int, exchanges: int) -> None:
    doc = _doc(rows, exchanges)
    path = tmp_path / "results.json"
    write_json(path, doc)
    text = path.read_text(encoding="utf-8")
    assert text == dumps(doc)
    assert json.loads(text) == doc
    lines = text.rstrip("\n").split("\n")
    assert len(lines) == 2 + len(doc) + (rows + 1 if rows else 0) + (
        exchanges + 1 if exchanges else 0
    )
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed into place
