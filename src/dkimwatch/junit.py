"""reports/junit.xml, in the format pytest's own junitxml writes by default (xunit2).

pytest's writer builds an element tree node per report, a noticeable share of what a run
costs over pytest itself (bench/RESULTS.md). This writer keeps a few strings per test and
writes the file once. It follows pytest's default configuration only; when the run
configures JUnit output in any other way (``junit_*`` ini options, ``--junit-prefix``),
the plugin lets pytest write reports/junit.xml instead. A selftest compares the two files.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

# pytest's defaults: with any other value, pytest writes the file (see default_config).
DEFAULT_INI = {
    "junit_family": "xunit2",
    "junit_logging": "no",
    "junit_suite_name": "pytest",
    "junit_duration_report": "total",
    "junit_log_passing_tests": True,
}
MESSAGE_BUDGET = 500  # characters of a failure's or error's message attribute, as pytest

# What XML 1.0 cannot hold (and DEL), shown as #xNN the way pytest shows it.
_ILLEGAL = re.compile("[^\t\n\r\x20-\x7e\x80-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTR = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;"}
    | {"\t": "&#09;"}
)
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def default_config(config: pytest.Config) -> bool:
    """Whether the run's JUnit settings are pytest's defaults (this writer's format)."""
    if getattr(config.option, "junitprefix", None):
        return False
    for name, default in DEFAULT_INI.items():
        try:
            value = config.getini(name)
        except ValueError:  # pytest without this option: its default applies
            continue
        if value != default:
            return False
    return True


def _visible(value: object) -> str:
    return _ILLEGAL.sub(lambda m: f"#x{ord(m.group()):02X}", str(value))


def _attr(value: object) -> str:
    return _visible(value).translate(_ATTR)


def _text(value: object) -> str:
    return _visible(value).translate(_TEXT)


def _shorten(message: str) -> str:
    """Whole lines while they fit the budget, a first line cut when it alone does not, and
    a pointer to the element text (which holds the whole report) when anything went."""
    lines = message.splitlines() or [""]
    kept: list[str] = []
    size = 0
    for line in lines:
        if kept and size + len(line) + 1 > MESSAGE_BUDGET:
            break
        kept.append(line)
        size += len(line) + 1
    short = "\n".join(kept)
    cut = len(short) > MESSAGE_BUDGET
    if cut:
        short = short[:MESSAGE_BUDGET] + "..."
    left = len(lines) - len(kept)
    if left:
        note = f"+{left} more line{'s' if left > 1 else ''}"
    elif cut:
        note = "truncated"
    else:
        return message
    return f"{short}\n[{note}; full report in element text]"


def _names(nodeid: str) -> tuple[str, str]:
    """(classname, name) of a node id: the file as a dotted module, then the classes."""
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = names[0].replace("/", ".").removesuffix(".py")
    names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]


def _reason(report: Any) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    return str(crash.message) if crash is not None else str(report.longrepr)


@dataclass
class _Case:
    nodeid: str
    duration: float = 0.0
    inner: list[str] = field(default_factory=list)
    properties: list[tuple[str, str]] = field(default_factory=list)
    failed_call: bool = False
    written: str | None = None  # as a junit.xml of this writer has it (JUnitXml.joined)

    def xml(self) -> str:
        if self.written is not None:
            return self.written
        classname, name = _names(self.nodeid)
        head = f'<testcase classname="{_attr(classname)}" name="{_attr(name)}" '
        head += f'time="{self.duration:.3f}"'
        body = "".join(self.inner)
        if self.properties:
            props = "".join(
                f'<property name="{_attr(n)}" value="{_attr(v)}" />' for n, v in self.properties
            )
            body = f"<properties>{props}</properties>{body}"
        return f"{head}>{body}</testcase>" if body else f"{head} />"


def case_key(nodeid: str) -> str:
    """How a test case of ``nodeid`` names itself in junit.xml (its two attributes)."""
    classname, name = _names(nodeid)
    return f'classname="{_attr(classname)}" name="{_attr(name)}"'


_SUITE = re.compile(
    r'<\?xml version="1\.0" encoding="utf-8"\?><testsuites name="pytest tests">'
    r'<testsuite name="pytest" errors="(\d+)" failures="(\d+)" skipped="(\d+)" '
    r'tests="(\d+)" time="([0-9.]+)" timestamp="([^"]+)" hostname="[^"]*"'
    r"(?: />|>(.*)</testsuite>)</testsuites>",
    re.DOTALL,
)
# Within this writer's output a case ends at its first "/>" or "</testcase>": every value
# in it is escaped, so neither occurs inside.
_WRITTEN_CASE = re.compile(
    r'<testcase (classname="[^"]*" name="[^"]*") time="([0-9.]+)"'
    r"(?: />|>.*?</testcase>)",
    re.DOTALL,
)


@dataclass(frozen=True)
class Written:
    """A junit.xml this writer wrote, read back (for ``dkimwatch merge``)."""

    cases: list[tuple[str, str]]  # (case_key, the test case as written), in its order
    errors: int
    failures: int
    skipped: int
    tests: int
    seconds: float
    started: datetime


def read_written(text: str) -> Written | None:
    """``text`` as this writer wrote it; None when another writer did (pytest's own, when
    the run configured JUnit output), or it is not whole."""
    suite = _SUITE.fullmatch(text)
    if suite is None:
        return None
    body = suite.group(7) or ""
    cases = [(m.group(1), m.group(0)) for m in _WRITTEN_CASE.finditer(body)]
    if "".join(xml for _, xml in cases) != body:
        return None
    errors, failures, skipped, tests = (int(suite.group(i)) for i in range(1, 5))
    try:
        started = datetime.fromisoformat(suite.group(6))
    except ValueError:
        return None
    return Written(cases, errors, failures, skipped, tests, float(suite.group(5)), started)


class JUnitXml:
    """Collects what junit.xml needs from every report, writes it at the end."""

    def __init__(self) -> None:
        self.started = datetime.now().astimezone()
        self.seconds: float | None = None  # the suite's time, when not from started to now
        self.cases: list[_Case] = []
        self.open: dict[str, _Case] = {}
        self.counts = {"passed": 0, "failure": 0, "skipped": 0, "error": 0}
        self.double_failures = 0

    def _case(self, nodeid: str) -> _Case:
        case = self.open.get(nodeid)
        if case is None:
            case = self.open[nodeid] = _Case(nodeid)
            self.cases.append(case)
        return case

    def _add(self, case: _Case, kind: str, xml: str) -> None:
        self.counts[kind] += 1
        case.inner.append(xml)

    def add(self, report: pytest.TestReport) -> None:
        nodeid, when = report.nodeid, report.when
        if report.failed and when == "teardown":
            earlier = self.open.get(nodeid)
            if earlier is not None and earlier.failed_call:
                # A failed call, then a failed teardown: two test cases, as pytest writes.
                self.open.pop(nodeid)
            elif earlier is not None:
                self.double_failures += 1  # one test case, counted by both its outcomes
        case = self._case(nodeid)
        if report.passed:
            if when == "call":
                self.counts["passed"] += 1
        elif report.failed:
            text = _text(report.longrepr)
            if when == "call":
                case.failed_call = True
                if hasattr(report, "wasxfail"):
                    message = "xfail-marked test passes unexpectedly"
                    self._add(case, "skipped", f'<skipped message="{message}">None</skipped>')
                else:
                    message = _attr(_shorten(_reason(report)))
                    self._add(case, "failure", f'<failure message="{message}">{text}</failure>')
            else:
                phase = "teardown" if when == "teardown" else "setup"
                message = _attr(_shorten(f'failed on {phase} with "{_reason(report)}"'))
                self._add(case, "error", f'<error message="{message}">{text}</error>')
        elif report.skipped:
            if hasattr(report, "wasxfail"):
                reason = _attr(str(report.wasxfail).removeprefix("reason: "))
                self._add(case, "skipped", f'<skipped type="pytest.xfail" message="{reason}" />')
            else:
                longrepr: Any = report.longrepr  # (path, line, reason) for a skip
                path, line, reason = longrepr
                reason = str(reason).removeprefix("Skipped: ")
                details = _text(f"{path}:{line}: {reason}")
                self._add(
                    case,
                    "skipped",
                    f'<skipped type="pytest.skip" message="{_attr(reason)}">{details}</skipped>',
                )
        case.duration += report.duration
        if when == "teardown":
            case.properties = [(str(n), str(v)) for n, v in report.user_properties]
            self.open.pop(nodeid, None)

    def add_collect_report(self, report: pytest.CollectReport) -> None:
        if report.passed:
            return
        kind, what = ("error", "failure") if report.failed else ("skipped", "skipped")
        case = _Case(report.nodeid)
        self.cases.append(case)
        text = _text(report.longrepr)
        self._add(case, kind, f'<{kind} message="collection {what}">{text}</{kind}>')

    @classmethod
    def joined(cls, parts: Sequence[Written], order: Mapping[str, int]) -> JUnitXml:
        """One run's junit.xml of the parts' test cases (each case's ``order`` by its
        case_key; KeyError for a case not in it): their counts added up, their times too,
        started when the first part started."""
        joined = cls()
        joined.started = min(p.started for p in parts)
        joined.seconds = sum(p.seconds for p in parts)
        written = [case for p in parts for case in p.cases]
        written.sort(key=lambda case: order[case[0]])
        joined.cases = [_Case("", written=xml) for _, xml in written]
        c = joined.counts
        c["error"] = sum(p.errors for p in parts)
        c["failure"] = sum(p.failures for p in parts)
        c["skipped"] = sum(p.skipped for p in parts)
        c["passed"] = sum(p.tests for p in parts) - c["error"] - c["failure"] - c["skipped"]
        return joined

    def document(self) -> str:
        seconds = self.seconds
        if seconds is None:
            seconds = (datetime.now().astimezone() - self.started).total_seconds()
        c = self.counts
        tests = c["passed"] + c["failure"] + c["skipped"] + c["error"] - self.double_failures
        suite = (
            f'<testsuite name="pytest" errors="{c["error"]}" failures="{c["failure"]}" '
            f'skipped="{c["skipped"]}" tests="{tests}" time="{seconds:.3f}" '
            f'timestamp="{self.started.isoformat()}" hostname="{_attr(platform.node())}"'
        )
        body = "".join(case.xml() for case in self.cases)
        suite += f">{body}</testsuite>" if body else " />"
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<testsuites name="pytest tests">{suite}</testsuites>'
        )
