"""reports/junit.xml (dkimwatch.junit) against pytest's own junitxml, run side by side in
one session: the same file but for the timings, for every outcome the suite and a custom
test can produce, hostile text included."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from dkimwatch.junit import _shorten
from selftests import tenantkit
from selftests.suitekit import install_suite

pytest_plugins = ["pytester"]

CUSTOM_TESTS = """
import pytest

@pytest.fixture
def breaks_on_teardown():
    yield
    raise RuntimeError("teardown <broke> & \\x07 rang")

def test_passes_then_teardown_fails(breaks_on_teardown):
    pass

def test_fails_then_teardown_fails(breaks_on_teardown):
    assert "a" == "b"

def test_hostile_failure(record_property):
    record_property("owner", "mail <team> & \\"ops\\"")
    assert False, "line one\\n" + "x" * 600 + "\\n<script>alert(1)</script> \\x1b[31m"

def test_skips():
    pytest.skip("not today & <never>")

@pytest.mark.xfail(reason="known & tracked")
def test_xfails():
    assert False

@pytest.mark.xfail(reason="fixed upstream", strict=True)
def test_xpasses_strictly():
    pass

@pytest.mark.xfail(reason="maybe")
def test_xpasses():
    pass

@pytest.fixture
def broken():
    raise ValueError("setup failed with \\"quotes\\"")

def test_setup_error(broken):
    pass
"""


def timeless(text: str) -> str:
    text = re.sub(r' time="[0-9.]+"', ' time=""', text)
    return re.sub(r'timestamp="[^"]*"', 'timestamp=""', text)


@pytest.fixture
def tenant(pytester: pytest.Pytester) -> pytest.Pytester:
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    (pytester.path / "tests" / "test_custom.py").write_text(CUSTOM_TESTS)
    (pytester.path / "tests" / "test_later.py").write_text(
        'import pytest\n\npytest.skip("not this quarter", allow_module_level=True)\n'
    )
    return pytester


def test_junit_xml_is_pytests_own(tenant: pytest.Pytester) -> None:
    result = tenant.runpytest_subprocess("--now", tenantkit.NOW, "--junitxml=pytest.xml")
    assert result.ret == 1
    ours = (tenant.path / "reports" / "junit.xml").read_text()
    theirs = (tenant.path / "pytest.xml").read_text()
    assert timeless(ours) == timeless(theirs)
    suite = ET.fromstring(ours).find("testsuite")
    assert suite is not None
    # Every kind of outcome took part: the comparison covered them.
    for kind in ("failure", "error", "skipped", "properties"):
        assert suite.find(f"testcase/{kind}") is not None, kind
    assert suite.find("testcase/skipped[@message='collection skipped']") is not None
    assert int(suite.get("tests", "0")) > 90
    assert "generated xml file" in result.stdout.str()


def test_configured_junit_is_left_to_pytest(tenant: pytest.Pytester) -> None:
    """Any JUnit setting of pytest's (here the xunit1 family) is pytest's to honour."""
    tenant.runpytest_subprocess("--now", tenantkit.NOW, "-o", "junit_family=xunit1")
    testcase = ET.parse(tenant.path / "reports" / "junit.xml").find("testsuite/testcase")
    assert testcase is not None
    assert testcase.get("file", "").startswith("tests/")


def test_long_messages_are_shortened_with_a_pointer() -> None:
    assert _shorten("short") == "short"
    long_line = "x" * 600
    assert _shorten(long_line) == "x" * 500 + "...\n[truncated; full report in element text]"
    lines = "\n".join(f"line {i} " + "y" * 90 for i in range(10))
    shortened = _shorten(lines)
    assert shortened.endswith("[+5 more lines; full report in element text]")
    assert shortened.startswith("line 0 ")
