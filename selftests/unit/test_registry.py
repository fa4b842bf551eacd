"""The registry of checks (dkimwatch.registry) and everything that must agree with it:
the import layering that lets the inventory take its check ids from it, tests/, README's
table, the pytest markers, waivers, and the demo's expected verdicts."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import re
import shutil
import sys
import tomllib
import warnings
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dkimwatch import registry
from dkimwatch.inventory import InventoryError, load_inventory
from dkimwatch.model import Domain
from dkimwatch.plugin import check_of
from selftests import tenantkit

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "dkimwatch"


# --- layering -----------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(tree: ast.Module) -> Iterator[str]:
    """dkimwatch modules imported anywhere in a module (functions too), except under
    ``if TYPE_CHECKING:``, which never runs."""
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("dkimwatch"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dkimwatch"):
            assert node.module is not None
            yield node.module
            # `from dkimwatch import registry` imports the submodule registry.
            yield from (f"{node.module}.{a.name}" for a in node.names)


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {m for m in _runtime_imports(ast.parse(path.read_text())) if m in paths} - {name}
        for name, path in paths.items()
    }


def _cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path start → … → start, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        name, path = stack.pop()
        for nxt in sorted(graph[name]):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_the_registry_and_what_it_imports_are_on_no_import_cycle() -> None:
    """registry imports the checks, the checks use the model, the inventory (the loader)
    takes its check ids from the registry: none of them may import its way back."""
    graph = import_graph()
    assert {"dkimwatch.checks.dkim", "dkimwatch.model"} <= graph["dkimwatch.registry"]
    assert "dkimwatch.registry" in graph["dkimwatch.inventory"]
    involved = {"dkimwatch.registry", "dkimwatch.inventory"}
    todo = ["dkimwatch.registry"]
    while todo:
        for nxt in graph[todo.pop()] - involved:
            involved.add(nxt)
            todo.append(nxt)
    cycles = [c for name in sorted(involved) if (c := _cycle_through(graph, name))]
    assert not cycles, [" → ".join(c) for c in cycles]


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle_through(graph, "a") == ["a", "b", "c", "a"]
    assert _cycle_through(graph, "d") is None


# --- the declarations ---------------------------------------------------------------------


def test_each_check_is_declared_once_with_a_known_family_and_scope() -> None:
    assert len(set(registry.IDS)) == len(registry.IDS)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", c.id) for c in registry.CHECKS)
    assert {c.family for c in registry.CHECKS} == set(registry.FAMILIES)
    assert {c.scope for c in registry.CHECKS} <= set(registry.PER)
    assert all(c.holds_when and "\n" not in c.holds_when for c in registry.CHECKS)
    functions = [c.function for c in registry.CHECKS]
    assert len(set(functions)) == len(functions)
    # Every check says what of the inventory it reads (history's fingerprint), once each.
    assert all(c.inputs and len(set(c.inputs)) == len(c.inputs) for c in registry.CHECKS)
    for check in registry.CHECKS:  # a per-selector check takes the selector
        params = list(inspect.signature(check.function).parameters)
        assert params[:2] == ["ctx", "domain"], check.id
        assert params[2:] == (["selector"] if check.scope == "selector" else []), check.id


def test_cases_follow_the_registry_and_skip_the_initial_domains_cnames() -> None:
    custom = Domain("contoso.com", "contoso.com", selectors=("selector1", "selector2"))
    got = registry.cases(custom)
    want: list[tuple[str, str | None]] = []
    for check in registry.CHECKS:
        selectors = custom.selectors if check.scope == "selector" else (None,)
        want.extend((check.id, s) for s in selectors)
    assert got == want
    assert registry.tests_per_domain(custom) == len(got)
    initial = Domain("contoso.onmicrosoft.com", "contoso.onmicrosoft.com")
    assert registry.cases(initial) == [c for c in got if c[0] != "dkim_cname"]
    # Accepted domains that cannot send: dkim_enabled (saying why), and for one with
    # SendingFromDomainDisabled its MX and DMARC; the coexistence domain nothing else.
    parked = Domain("parked.contoso.com", "parked.contoso.com", sending_disabled=True)
    assert registry.cases(parked) == [("dkim_enabled", None), ("dmarc", None), ("mx", None)]
    routing = Domain("contoso.mail.onmicrosoft.com", "x", coexistence=True)
    assert registry.cases(routing) == [("dkim_enabled", None)]


def test_the_gate_judges_its_checks_per_selector_first_then_per_domain() -> None:
    """dkimwatch gate and pytest --gate take their checks from the registry's gate flag."""
    assert registry.GATE_IDS == ("dkim_cname", "dkim_target", "dkim_key", "dkim_rotation")
    domain = Domain("contoso.com", "contoso.com", selectors=("selector1", "selector2"))
    assert registry.gate_cases(domain) == [
        *((c, s) for c in ("dkim_cname", "dkim_target", "dkim_key") for s in domain.selectors),
        ("dkim_rotation", None),
    ]


# --- each check id written once -----------------------------------------------------------

# Strings that equal a check id but name something else, where they may stand: the file
# (relative to src/dkimwatch) and the string, with what it names there.
HOMONYMS: dict[tuple[str, str], str] = {
    ("records/spf.py", "mx"): "the SPF mechanism mx",
    ("checks/spf_walk.py", "mx"): "the SPF mechanism mx, walked",
    ("inventory.py", "mx"): "the policy setting mx:",
}


def _own_module(check: registry.Check) -> str:
    source = inspect.getsourcefile(check.function)
    assert source is not None, check.id
    return Path(source).resolve().relative_to(PACKAGE).as_posix()


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        scopes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        if isinstance(node, scopes) and node.body and isinstance(node.body[0], ast.Expr):
            found.add(id(node.body[0].value))
    return found


def check_id_literals(package: Path) -> list[str]:
    """Each string in the package's code (docstrings aside) that spells a check id outside
    the registry and the check's own module, as "file:line: 'id'". A string equal to an id
    counts, and a longer one (an f-string's text too) naming an id with an underscore as a
    word: "spf", "dmarc" and "mx" are also record types and settings in prose."""
    own = {c.id: _own_module(c) for c in registry.CHECKS}
    words = {i: re.compile(rf"(?<![\w.<-]){i}(?![\w.>-])") for i in registry.IDS if "_" in i}
    found: list[tuple[str, int, str]] = []
    for path in sorted(package.rglob("*.py")):
        file = path.relative_to(package).as_posix()
        if file == "registry.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            if id(node) in docstrings:
                continue
            named = [i for i in registry.IDS if node.value == i]
            named += [i for i, word in words.items() if i != node.value and word.search(node.value)]
            found.extend(
                (file, node.lineno, i)
                for i in named
                if own[i] != file and (file, i) not in HOMONYMS
            )
    return [f"{file}:{line}: {i!r}" for file, line, i in sorted(found)]


def test_each_check_id_is_written_only_in_the_registry_and_its_own_module() -> None:
    """What needs a check's id takes it from the registry (or, in its own module, writes
    it): a copy elsewhere is one more place to forget when a check is renamed or added."""
    found = check_id_literals(PACKAGE)
    assert not found, "check ids written outside the registry:\n" + "\n".join(found)


def test_the_id_scan_finds_ids_in_strings_and_f_strings(tmp_path: Path) -> None:
    (tmp_path / "registry.py").write_text('IDS = ("spf", "dkim_key")\n')
    (tmp_path / "elsewhere.py").write_text(
        '"""Docstrings may say spf and dkim_key."""\n'
        'A = ("spf", "spf_x", "the spf record")\n'
        'B = f"{A} see dkim_key, not dkim_keys"\n'
    )
    assert check_id_literals(tmp_path) == ["elsewhere.py:2: 'spf'", "elsewhere.py:3: 'dkim_key'"]


# --- tests/ -------------------------------------------------------------------------------


def _suite_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"dkimwatch_suite_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():  # the families' markers are registered by the plugin,
        warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)  # not in this session
        spec.loader.exec_module(module)
    return module


def _marks(obj: Any) -> set[str]:
    marks = getattr(obj, "pytestmark", [])
    return {m.name for m in (marks if isinstance(marks, list) else [marks])}


@cache
def suite_tests() -> list[tuple[str, str, set[str]]]:
    """(file, check, markers) of every compliance test in tests/, in pytest's order: files
    by name, each file's functions as written."""
    out = []
    for path in sorted((REPO / "tests").glob("test_*.py")):
        module = _suite_module(path)
        for name, fn in vars(module).items():
            if not (name.startswith("test_") and inspect.isfunction(fn)):
                continue
            if "verdict" in inspect.signature(fn).parameters:
                out.append((f"tests/{path.name}", check_of(fn), _marks(module) | _marks(fn)))
    return out


def test_every_check_has_exactly_one_test_with_its_family_marker_and_vice_versa() -> None:
    tests = suite_tests()
    found = [check for _, check, _ in tests]
    assert sorted(found) == sorted(registry.IDS), "tests/ and the registry disagree"
    for file, check, marks in tests:
        declared = registry.BY_ID[check]
        assert file == declared.test_module, check
        assert marks & set(registry.FAMILIES) == {declared.family}, (check, marks)


def test_the_suite_order_is_the_order_pytest_runs_tests() -> None:
    assert tuple(check for _, check, _ in suite_tests()) == registry.SUITE_ORDER


# --- README -------------------------------------------------------------------------------


def test_readme_what_is_checked_table_is_the_registry() -> None:
    text = (REPO / "README.md").read_text()
    section = text.split("\n## What is checked\n", 1)[1]
    table = []
    for line in section.lstrip("\n").splitlines():
        if not line.startswith("|"):
            break
        table.append(line)
    assert table == registry.readme_table(), "\n" + "\n".join(registry.readme_table())


# --- markers ------------------------------------------------------------------------------


def test_family_markers_come_from_the_plugin_alone() -> None:
    """pyproject.toml lists no markers of its own that could drift from the registry."""
    ini = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "markers" not in ini


def test_pytest_knows_the_family_markers_strictly(pytester: pytest.Pytester) -> None:
    shutil.copy(REPO / "conftest.py", pytester.path / "conftest.py")
    shutil.copytree(REPO / "tests", pytester.path / "tests")
    (pytester.path / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    tenantkit.write_tenant(pytester.path)
    shown = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--markers")
    assert shown.ret == 0
    for line in registry.marker_lines():
        assert f"@pytest.mark.{line}" in shown.stdout.str()
    collected = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--strict-markers", "--collect-only", "-q", "-m", "spf"
    )
    assert collected.ret == 0, collected.stdout.str()
    spf_domains = len(load_inventory(pytester.path / "domains.yaml").domains)
    assert f"{spf_domains}/" in collected.stdout.str()  # n/N tests collected (-m spf)


# --- waivers ------------------------------------------------------------------------------


def _waiver_inventory(tmp_path: Path, check: str) -> Path:
    path = tmp_path / "domains.yaml"
    path.write_text(
        "version: 1\ndomains:\n  - contoso.com\nwaivers:\n"
        f"  - {{domain: contoso.com, check: {check}, reason: migrating}}\n"
    )
    return path


@pytest.mark.parametrize("check", registry.IDS)
def test_a_waiver_may_name_every_registered_check(tmp_path: Path, check: str) -> None:
    inventory = load_inventory(_waiver_inventory(tmp_path, check))
    assert inventory.waiver_for("contoso.com", check) is not None


def test_a_waiver_of_an_unregistered_check_names_the_registered_ones(tmp_path: Path) -> None:
    with pytest.raises(InventoryError) as info:
        load_inventory(_waiver_inventory(tmp_path, "dkim_keys"))
    assert str(info.value).endswith(
        f"unknown check 'dkim_keys' (did you mean 'dkim_key'?); expected one of "
        f"{', '.join(registry.IDS)}"
    )


# --- the demo's expected verdicts ---------------------------------------------------------


@pytest.mark.parametrize(
    ("inventory", "expected"),
    [
        ("domains.yaml", "demo/expected.json"),
        ("demo/domains-export.yaml", "demo/expected-export.json"),
    ],
)
def test_demo_expectations_cover_every_registered_check(inventory: str, expected: str) -> None:
    """bench/gen_tenant.py writes the demo's expectations from failure kinds, independently
    of the suite; they must still expect a verdict of every check for every domain."""
    domains = load_inventory(REPO / inventory).domains
    nodeids = json.loads((REPO / expected).read_text())
    functions = {n.split("[", 1)[0] for n in nodeids}
    assert functions == {
        f"{registry.BY_ID[check].test_module}::test_{check}" for check in registry.IDS
    }
    assert len(nodeids) == sum(registry.tests_per_domain(d) for d in domains)


def _tenant_generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_tenant", REPO / "bench" / "gen_tenant.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_tenant_generator_expects_a_verdict_of_every_registered_check() -> None:
    """Every tenant bench/gen_tenant.py writes (demo, corpus, scale) lists its tests with
    nodeids(); a check missing there would be missing from every expectation."""
    nodeids = _tenant_generator().nodeids("contoso.com", {})
    functions = {n.split("[", 1)[0] for n in nodeids}
    assert functions == {
        f"{registry.BY_ID[check].test_module}::test_{check}" for check in registry.IDS
    }
    assert len(nodeids) == registry.tests_per_domain(Domain("contoso.com", "contoso.com"))
