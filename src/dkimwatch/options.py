"""dkimwatch's command-line options, registered through the ``pytest11`` entry point.

Options must be known before pytest parses the command line, or ``--domains PATH`` would
be read as a test path; a conftest.py is loaded too late for that. This module only adds
options: the audit itself starts when the root conftest.py loads ``dkimwatch.plugin``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


# Long: every option of the suite declared in one place, in the order --help lists them.
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dkimwatch", "dkimwatch compliance suite")
    group.addoption(
        "--domains",
        action="append",
        default=None,
        metavar="PATH",
        help="inventory (domains.yaml); a directory, or the option given more than once: "
        "one inventory per tenant (every *.yaml in the directory), audited in one run",
    )
    group.addoption(
        "--nameserver",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="resolver to ask (repeatable; overrides the inventory's dns settings)",
    )
    group.addoption(
        "--zones", default=None, metavar="DIR", help="serve these zone files and ask only them"
    )
    group.addoption(
        "--now", default=None, metavar="ISO8601", help="instant rotation is judged at (UTC)"
    )
    group.addoption(
        "--reports", default="reports", metavar="DIR", help="where outputs go (default reports/)"
    )
    group.addoption(
        "--consistency",
        action="store_true",
        help="ask every --nameserver every question and warn where their answers differ",
    )
    group.addoption(
        "--authoritative",
        action="store_true",
        help="ask each name's own authoritative servers (found via NS), past every cache",
    )
    group.addoption(
        "--authoritative-port",
        type=int,
        default=53,
        metavar="PORT",
        help="port of the authoritative servers (default 53; for test beds)",
    )
    group.addoption(
        "--gate",
        default=None,
        metavar="DOMAIN",
        help="only the enable gate of DOMAIN: its DKIM checks, judged as once enabled "
        "(see `dkimwatch gate`)",
    )
    group.addoption(
        "--record", default=None, metavar="PATH", help="save every DNS answer of the run"
    )
    group.addoption(
        "--replay", default=None, metavar="PATH", help="answer only from a saved record"
    )
    group.addoption(
        "--shard",
        default=None,
        metavar="I/N",
        help="audit only shard I of N (1-based; each domain falls in one shard by a hash of "
        "its name); the shard's answers go to <reports>/answers.json for `dkimwatch merge`",
    )


PATH_OPTIONS = ("--domains", "--zones", "--reports", "--record", "--replay")


def _join(args: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """(``args`` with every ``--domains PATH`` written as ``--domains=PATH``, the
    (option, value) pairs that were written apart)."""
    out: list[str] = []
    apart: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        if args[i] in PATH_OPTIONS and i + 1 < len(args):
            out.append(f"{args[i]}={args[i + 1]}")
            apart.append((args[i], args[i + 1]))
            i += 2
            continue
        out.append(args[i])
        i += 1
    return out, apart


def joined_path_options(args: list[str]) -> list[str] | None:
    """``args`` with path options joined to their values; None when none was apart."""
    out, apart = _join(args)
    return out if apart else None


def separate_path_options(args: list[str]) -> list[tuple[str, str]]:
    """The path options whose value was given as a separate argument."""
    return _join(args)[1]


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    """pytest chooses its root directory (and so its ini file, testpaths and node ids)
    before any plugin's options are known, and takes the value of ``--domains PATH`` for a
    test path: a file outside the project then roots the session in the wrong place (no ini
    file found is the sign). When that happened on a command line, run pytest again with
    ``--domains=PATH``, which it reads correctly. In-process runs (pytest.main) are left to
    the plugin's check."""
    if early_config.inipath is not None:
        return
    invoked = list(early_config.invocation_params.args)
    if sys.argv[1:] != invoked:  # not a command line: pytest.main(), or an xdist worker
        return
    joined = joined_path_options(invoked)
    if joined is None:
        return
    # pytest already captures fds 1 and 2 here: give them back before handing over.
    capture = early_config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.stop_global_capturing()
    sys.stdout.flush()
    sys.stderr.flush()
    if Path(sys.argv[0]).name == "__main__.py":
        os.execv(sys.executable, [sys.executable, "-m", "pytest", *joined])
    os.execv(sys.executable, [sys.executable, sys.argv[0], *joined])


def _project() -> Path | None:
    """The dkimwatch project this package runs from (an editable install of the project), when
    its suite is there: the directory with conftest.py and tests/."""
    root = Path(__file__).resolve().parents[2]
    if (root / "conftest.py").is_file() and (root / "tests").is_dir():
        return root
    return None


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    """pytest run where the suite is not (another directory, or ``-c`` with an ini file
    elsewhere: pytest uses testpaths only in the root directory) collects nothing and says
    only that. Say what works: pytest in the project, or naming its tests/ directory (pytest
    then finds the project's ini file and conftest.py from that path)."""
    if exitstatus != pytest.ExitCode.NO_TESTS_COLLECTED:
        return
    if config.pluginmanager.has_plugin("dkimwatch.plugin"):
        return  # the suite is loaded: its selection chose nothing, pytest says so
    project = _project()
    if project is None:
        hint = (
            "no compliance suite here; run pytest in the dkimwatch project directory, or "
            "name its tests: pytest /path/to/dkimwatch/tests --domains=PATH"
        )
    else:
        hint = (
            f"no compliance suite here; run pytest in {project}, or name its tests: "
            f"pytest {project / 'tests'} --domains=PATH"
        )
    terminalreporter.write_line(f"dkimwatch: {hint}")
