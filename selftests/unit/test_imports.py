"""The shape of the package: no import cycles, the leaf modules import nothing of dkimwatch,
and no function runs longer than a screen without saying why.

The graph is read from the source (every import statement, including those inside functions
and under TYPE_CHECKING), not from what happens to be loaded at run time.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "dkimwatch"
# Modules every other module may import; they import nothing of dkimwatch themselves.
LEAVES = ("dkimwatch.names", "dkimwatch.instants", "dkimwatch.standards")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each dkimwatch module → the dkimwatch modules it imports."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from dkimwatch import exo` imports the module dkimwatch.exo
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in node.names
                ]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]  # dkimwatch.records.spf.x → its module
                if target and target != name:
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, …, a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_the_graph_is_read() -> None:
    graph = import_graph()
    assert "dkimwatch.records.taglist" in graph["dkimwatch.records.spf"]
    assert "dkimwatch.exo" in graph["dkimwatch.checks.dkim_cname"]  # from dkimwatch import exo
    assert "dkimwatch.zoneserver" in graph["dkimwatch.cli"]  # imported inside a function


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_leaves_import_nothing_of_dkimwatch() -> None:
    graph = import_graph()
    for leaf in LEAVES:
        assert leaf in graph, f"{leaf} is missing"
        assert graph[leaf] == set(), f"{leaf} imports {sorted(graph[leaf])}"


# A function longer than this says why, in a comment on the line above it (above its
# decorators) or on its def line: "# Long: <the reason>".
LONGEST = 60
_REASON = re.compile(r"#\s*Long:\s*\S.{8,}")


def long_functions_without_reason(source: str, file: str) -> list[str]:
    """The functions of ``source`` over LONGEST lines (def to last line) with no reason
    beside them, as "file:line name (N lines)"."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        beside = [lines[node.lineno - 1], lines[first - 2] if first > 1 else ""]
        if length > LONGEST and not any(_REASON.search(line) for line in beside):
            found.append(f"{file}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_long_functions_say_why() -> None:
    found = [
        f
        for path in sorted(PACKAGE.rglob("*.py"))
        for f in long_functions_without_reason(
            path.read_text(encoding="utf-8"), path.relative_to(PACKAGE).as_posix()
        )
    ]
    assert not found, f"over {LONGEST} lines without a '# Long: why' beside them:\n" + "\n".join(
        found
    )


def test_a_long_function_needs_its_reason() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(LONGEST))
    bare = f"def f() -> None:\n{body}"
    assert long_functions_without_reason(bare, "m.py") == [f"m.py:1 f ({LONGEST + 1} lines)"]
    short = f"def f() -> None:\n{''.join(body.splitlines(True)[1:])}"
    assert long_functions_without_reason(short, "m.py") == []
    said = f"# Long: one table of options, in the order --help shows them.\n@cache\n{bare}"
    assert long_functions_without_reason(said, "m.py") == []
    assert long_functions_without_reason(f"# Long:\n{bare}", "m.py") != []  # no reason given
