"""Each registered check has unit tests where a reader looks for them: its family's module
here, test_<family>.py (or test_<family>_<more>.py, as test_dkim_enabled.py), judges it by
calling its function, itself or through a helper of selftests/ the module imports. Families
and checks come from the registry, so a new check without its unit tests fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dkimwatch import registry

HERE = Path(__file__).resolve().parent
SELFTESTS = HERE.parents[1]


def _calls(tree: ast.AST) -> set[str]:
    """The names of the functions called anywhere in ``tree`` (f(...) and x.f(...))."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                out.add(node.func.id)
            elif isinstance(node.func, ast.Attribute):
                out.add(node.func.attr)
    return out


def reached(module: Path) -> set[str]:
    """What ``module`` calls, and what the functions it imports from selftests' own helper
    modules (selftests.checkkit, …) call in turn."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    out = _calls(tree)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("selftests.")):
            continue
        helper = SELFTESTS.joinpath(*node.module.split(".")[1:]).with_suffix(".py")
        if not helper.is_file():
            continue
        imported = {alias.name for alias in node.names}
        for fn in ast.parse(helper.read_text(encoding="utf-8")).body:
            if isinstance(fn, ast.FunctionDef) and fn.name in imported:
                out |= _calls(fn)
    return out


def family_modules(family: str, where: Path = HERE) -> list[Path]:
    return sorted([*where.glob(f"test_{family}.py"), *where.glob(f"test_{family}_*.py")])


@pytest.mark.parametrize("family", sorted(registry.FAMILIES))
def test_each_family_has_its_unit_test_module(family: str) -> None:
    assert (HERE / f"test_{family}.py").is_file(), f"selftests/unit/checks/test_{family}.py"


@pytest.mark.parametrize("check", registry.CHECKS, ids=lambda c: c.id)
def test_each_check_is_judged_by_its_familys_unit_tests(check: registry.Check) -> None:
    name = check.function.__name__
    modules = family_modules(check.family)
    assert any(name in reached(m) for m in modules), (
        f"{check.id}: no module of {[m.name for m in modules]} calls {name}"
    )


def test_reached_follows_helpers_and_misses_what_is_not_called(tmp_path: Path) -> None:
    """The finder sees a check called through checkkit's helper, and not one only named."""
    (tmp_path / "test_dkim.py").write_text(
        "from dkimwatch.checks import check_mx\n"
        "from selftests.checkkit import dkim_verdicts\n"
        "def test_x(board):\n"
        "    dkim_verdicts(board, '', None)\n"
        "    assert check_mx\n"
    )
    (tmp_path / "test_dkimish.py").write_text("")
    got = reached(tmp_path / "test_dkim.py")
    assert {"check_dkim_cname", "check_dkim_rotation"} <= got
    assert "check_mx" not in got
    assert family_modules("dkim", tmp_path) == [tmp_path / "test_dkim.py"]
