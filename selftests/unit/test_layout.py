"""README's layout lists every folder of selftests/, each under its parent, and no other."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def readme_selftests_tree() -> set[str]:
    """The folders README's layout block shows under selftests/, as relative paths."""
    block = (REPO / "README.md").read_text(encoding="utf-8").split("Layout:\n\n```\n", 1)[1]
    lines = block.split("```", 1)[0].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("selftests/ "))
    out: set[str] = set()
    parents: list[str] = []
    for line in lines[start + 1 :]:
        m = re.match(r"( +)(\S+)/\s", line)
        if m is None:
            break
        depth = len(m.group(1)) // 2
        parents = [*parents[: depth - 1], m.group(2)]
        out.add("/".join(parents))
    return out


def selftests_tree() -> set[str]:
    root = REPO / "selftests"
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_dir() and "__pycache__" not in p.parts and p.relative_to(root).parts[0] != "data"
    } | {"data"}


def test_readme_layout_shows_the_selftests_folders() -> None:
    assert readme_selftests_tree() == selftests_tree()
