"""results.json written piece by piece (report.dump_pieces into atomic_write_pieces) is the
document: one top-level field per line, one result and one exchange per line, also when the
results and the evidence table come as iterators (a streamed run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dkimwatch.report import atomic_write_pieces, dump_pieces, dumps


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
        (511, 2),
        (1027, 513),
    ],
)
def test_written_in_pieces_as_dumps_makes_it(tmp_path: Path, rows: int, exchanges: int) -> None:
    doc = _doc(rows, exchanges)
    path = tmp_path / "results.json"
    streamed = {
        **doc,
        "results": iter(list(doc["results"])),  # type: ignore[call-overload]
        "evidence": iter(list(doc["evidence"].items())),  # type: ignore[attr-defined]
    }
    atomic_write_pieces(path, dump_pieces(streamed))
    text = path.read_text(encoding="utf-8")
    assert text == dumps(doc)
    assert json.loads(text) == doc
    lines = text.rstrip("\n").split("\n")
    assert len(lines) == 2 + len(doc) + (rows + 1 if rows else 0) + (
        exchanges + 1 if exchanges else 0
    )
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed into place
