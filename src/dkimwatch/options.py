"""dkimwatch's command-line options, registered through the ``pytest11`` entry point.

Options must be known before pytest parses the command line, or ``--domains PATH`` would
be read as a test path; a conftest.py is loaded too late for that. This module only adds
options: the audit itself starts when the root conftest.py loads ``dkimwatch.plugin``.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dkimwatch", "dkimwatch compliance suite")
    group.addoption("--domains", default=None, metavar="PATH", help="inventory (domains.yaml)")
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
        "--record", default=None, metavar="PATH", help="save every DNS answer of the run"
    )
    group.addoption(
        "--replay", default=None, metavar="PATH", help="answer only from a saved record"
    )
