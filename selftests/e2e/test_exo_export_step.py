"""The Exchange Online export step of both pipelines and the script it runs.

PowerShell cannot be installed here (no Debian, PyPI or npm package carries it), so the
script is checked as text: every cmdlet it calls and every parameter it gives exists, as
Microsoft documents them (the table below, with the pages), the certificate is never
printed, and a failure ends in one line and exit 1 before the audit step.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from selftests.e2e.test_ci_examples import AZURE, GITHUB, load, named, step, task, walk_steps

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "exo" / "export.ps1"
LEARN = "https://learn.microsoft.com/powershell/module"

# cmdlet → (documented parameters this project may use, where they are documented)
DOCUMENTED: dict[str, tuple[frozenset[str], str]] = {
    "Connect-ExchangeOnline": (
        frozenset(
            {
                "AppId",
                "Organization",
                "CertificateFilePath",
                "CertificatePassword",
                "CertificateThumbprint",
                "ShowBanner",
            }
        ),
        f"{LEARN}/exchange/connect-exchangeonline",
    ),
    "Disconnect-ExchangeOnline": (
        frozenset({"Confirm", "ErrorAction"}),
        f"{LEARN}/exchange/disconnect-exchangeonline",
    ),
    "Get-DkimSigningConfig": (frozenset({"Identity"}), f"{LEARN}/exchange/get-dkimsigningconfig"),
    "Get-AcceptedDomain": (frozenset({"Identity"}), f"{LEARN}/exchange/get-accepteddomain"),
    "Install-Module": (
        frozenset({"Name", "MinimumVersion", "Scope", "Force"}),
        f"{LEARN}/powershellget/install-module",
    ),
    "Import-Module": (
        frozenset({"Name", "MinimumVersion"}),
        f"{LEARN}/microsoft.powershell.core/import-module",
    ),
    "Set-StrictMode": (
        frozenset({"Version"}),
        f"{LEARN}/microsoft.powershell.core/set-strictmode",
    ),
    "ConvertTo-Json": (
        frozenset({"Depth"}),
        f"{LEARN}/microsoft.powershell.utility/convertto-json",
    ),
    "ConvertTo-SecureString": (
        frozenset({"String", "AsPlainText", "Force"}),
        f"{LEARN}/microsoft.powershell.security/convertto-securestring",
    ),
    "Set-Content": (
        frozenset({"Path", "Encoding"}),
        f"{LEARN}/microsoft.powershell.management/set-content",
    ),
    "New-Item": (
        frozenset({"ItemType", "Force", "Path"}),
        f"{LEARN}/microsoft.powershell.management/new-item",
    ),
    "Move-Item": (
        frozenset({"Path", "Destination", "Force"}),
        f"{LEARN}/microsoft.powershell.management/move-item",
    ),
    "Remove-Item": (
        frozenset({"Path", "Force", "Recurse", "ErrorAction"}),
        f"{LEARN}/microsoft.powershell.management/remove-item",
    ),
    "Join-Path": (frozenset(), f"{LEARN}/microsoft.powershell.management/join-path"),
    "Out-Null": (frozenset(), f"{LEARN}/microsoft.powershell.core/out-null"),
    "Write-Output": (frozenset(), f"{LEARN}/microsoft.powershell.utility/write-output"),
}
_CMDLET = re.compile(r"(?<![\w$.-])([A-Z][A-Za-z]+-[A-Z][A-Za-z]+)(?![\w-])")
_PARAM = re.compile(r"(?<![\w$])-([A-Za-z][A-Za-z0-9]*)")


def code_of(text: str) -> str:
    """The script without comments, string contents and line continuations: what runs."""
    text = re.sub(r"<#.*?#>", "", text, flags=re.DOTALL)
    text = re.sub(r"'[^'\n]*'", "''", text)
    text = re.sub(r'"(?:`.|[^"`\n])*"', '""', text)
    text = re.sub(r"#[^\n]*", "", text)
    return text.replace("`\n", " ")


def calls(text: str) -> list[tuple[str, list[str]]]:
    """(cmdlet, the -Parameters given to it) for every call in PowerShell code; nested calls
    in parentheses are calls of their own, their parameters not the outer call's."""
    code = code_of(text)
    own = set(re.findall(r"(?im)^\s*function\s+([\w-]+)", code))
    found: list[tuple[str, list[str]]] = []
    for m in _CMDLET.finditer(code):
        name = m.group(1)
        if name in own:
            continue
        params: list[str] = []
        depth = 0
        pos = m.end()
        while pos < len(code):
            ch = code[pos]
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
                if depth < 0:
                    break
            elif depth == 0 and ch in "|;\n":
                break
            elif depth == 0 and ch == "-":
                p = _PARAM.match(code, pos)
                if p and code[pos - 1] in " \t":
                    params.append(p.group(1))
                    pos = p.end()
                    continue
            pos += 1
        found.append((name, params))
    return found


def undocumented(text: str) -> list[str]:
    problems = []
    for name, params in calls(text):
        if name not in DOCUMENTED:
            problems.append(f"{name}: not a cmdlet listed as documented")
            continue
        allowed, _ = DOCUMENTED[name]
        problems += [f"{name} -{p}: not documented" for p in params if p not in allowed]
    return problems


def export_steps() -> list[tuple[str, str]]:
    """(pipeline, PowerShell text) of each pipeline's export step."""
    gha = step(load(GITHUB), named("Export from Exchange Online"))
    azp = step(load(AZURE), task("PowerShell"))
    return [("github", str(gha["run"])), ("azure", str(azp["inputs"]["script"]))]


def test_the_script_calls_only_documented_cmdlets_and_parameters() -> None:
    text = SCRIPT.read_text(encoding="utf-8")
    assert not undocumented(text)
    called = calls(text)
    connects = [params for name, params in called if name == "Connect-ExchangeOnline"]
    assert len(connects) == 3  # thumbprint; file with and without password
    for params in connects:
        assert {"AppId", "Organization"} <= set(params)
        assert {"CertificateFilePath", "CertificateThumbprint"} & set(params)
    names = [name for name, _ in called]
    for cmdlet in ("Get-DkimSigningConfig", "Get-AcceptedDomain", "ConvertTo-Json"):
        assert cmdlet in names
    # Disconnected whatever happened: in the finally block.
    assert "Disconnect-ExchangeOnline" in code_of(text).split("finally", 1)[1]


def test_the_check_would_catch_a_wrong_cmdlet_or_parameter() -> None:
    assert undocumented("Connect-ExchangeOnline -AppId $a -Organisation $o") == [
        "Connect-ExchangeOnline -Organisation: not documented"
    ]
    assert undocumented("$x = @(Get-DkimSigningConfigs)") == [
        "Get-DkimSigningConfigs: not a cmdlet listed as documented"
    ]
    # Strings, comments and operators are not parameters; nested calls are their own.
    assert not undocumented(
        "# Get-Nothing -Bad\n"
        "if ($a -eq 'Get-Nothing -Bad') { Set-Content -Path (Join-Path $d 'x') -Encoding utf8 }"
    )
    assert calls("Set-Content -Path (Join-Path $d 'x') -Encoding utf8") == [
        ("Set-Content", ["Path", "Encoding"]),
        ("Join-Path", []),
    ]


def script_parameters() -> set[str]:
    block = code_of(SCRIPT.read_text(encoding="utf-8")).split("param(", 1)[1].split("\n)", 1)[0]
    return set(re.findall(r"\$(\w+)", block))


@pytest.mark.parametrize(("pipeline", "text"), export_steps())
def test_the_steps_call_the_script_as_it_is_written(pipeline: str, text: str) -> None:
    assert not undocumented(text), pipeline
    (line,) = [ln for ln in text.splitlines() if "examples/exo/export.ps1" in ln]
    given = set(_PARAM.findall(line.split("export.ps1", 1)[1]))
    assert given <= script_parameters(), given - script_parameters()
    assert {"AppId", "Organization", "OutDirectory"} <= given
    assert "secrets." not in text and "PASSWORD)" not in text  # secrets only through env


def test_the_certificate_is_never_printed() -> None:
    code = code_of(SCRIPT.read_text(encoding="utf-8"))
    printing = [
        ln
        for ln in code.splitlines()
        if re.search(r"Write-(Host|Output|Verbose|Information)|Console\]::", ln)
    ]
    for line in printing:
        assert not re.search(r"\$(encoded|secret|password|Certificate\w*)", line), line


def test_a_failure_is_one_line_and_exit_1() -> None:
    text = SCRIPT.read_text(encoding="utf-8")
    catch = code_of(text).split("catch", 1)[1].split("finally", 1)[0]
    assert "Write-OneLine" in catch and "exit 1" in catch
    assert "$ErrorActionPreference = ''" in code_of(text)  # 'Stop', every error is caught
    assert "$ErrorActionPreference = 'Stop'" in text
    assert "::error " in text and "##vso[task.logissue type=error]" in text


def pipeline_steps(doc: Any) -> list[dict[str, Any]]:
    return list(walk_steps(doc))


def test_the_export_runs_before_the_audit_and_stops_it_when_it_fails() -> None:
    gha = load(GITHUB)
    steps = gha["jobs"]["audit"]["steps"]
    export = step(gha, named("Export from Exchange Online"))
    audit = step(gha, named("Audit"))
    assert steps.index(export) < steps.index(audit)
    assert export["shell"] == "pwsh"
    assert export["if"] == "vars.EXO_APP_ID != ''"  # skipped for the demo tenant
    assert "if" not in audit  # a failed export skips it
    assert export["env"]["EXO_CERTIFICATE"] == "${{ secrets.EXO_CERTIFICATE }}"

    azp = load(AZURE)
    (audit_job,) = [j for j in azp["jobs"] if j["job"] == "audit"]
    steps = audit_job["steps"]
    secure = step(azp, task("DownloadSecureFile"))
    ps = step(azp, task("PowerShell"))
    script = step(azp, lambda s: "make report" in str(s.get("script", "")))
    assert steps.index(secure) < steps.index(ps) < steps.index(script)
    assert ps["inputs"]["pwsh"] is True
    assert ps["env"]["EXO_CERTIFICATE_PATH"] == f"$({secure['name']}.secureFilePath)"
    for s in (secure, ps):
        assert s["condition"] == "and(succeeded(), ne(variables['EXO_APP_ID'], ''))"
    assert "condition" not in script  # default succeeded(): a failed export skips it
    assert azp["variables"]["EXO_APP_ID"] == ""
