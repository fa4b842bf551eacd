"""Fix formats (src/dkimwatch/fixformats/) as pure functions, each read back by a real
parser of its language: dnspython for nsupdate and zone files, json plus the documented
ChangeBatch shape for Route 53, python-hcl2 for Terraform, bash itself for the Azure CLI
script, and PowerShell's quoting rules for the Windows DNS cmdlets, whose names and
parameters are checked against their documentation. Every format gets hostile values
(quotes, backslashes, $(…), ${…}, %{…}, newlines, NUL) and must keep each one a single datum."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tokenizer
import dns.zone
import hcl2
import pytest

from dkimwatch.fixes import Advice, ExoFix, Fix, RecordFix, SupportCase
from dkimwatch.fixformats import FORMATS, FixContext, render, render_all
from dkimwatch.fixformats.base import file_stem, powershell_quoted
from selftests.nsupdatekit import apply_nsupdate

KEY = "v=DKIM1; k=rsa; p=" + "A" * 392  # two 255-byte strings
TARGET = "selector1-contoso-com._domainkey.contoso.onmicrosoft.com"
HOSTILE = [
    'x" ; rm -rf / ; "',
    "back\\slash\\",
    "new\nline $(touch PWNED) ${HOME} `touch PWNED2`",
    "it's ‘quoted’ and ’ ‚ ‛",
    "%{ for x in y }${x}%{ endfor } $${literal}",
    "tab\tdel\x7f cr\r",
]
CTX = FixContext("contoso.com", "dkim_cname", "selector1", "points to another tenant")


def _items(fixes: list[Fix], ctx: FixContext = CTX) -> list[tuple[FixContext, Fix]]:
    return [(ctx, f) for f in fixes]


def _cname(action: str = "create", value: str | None = TARGET) -> RecordFix:
    return RecordFix(action, "selector1._domainkey.contoso.com", "CNAME", value, "contoso.com")  # type: ignore[arg-type]


def _txt(value: str | None, action: str = "create", owner: str = "contoso.com") -> RecordFix:
    return RecordFix(action, owner, "TXT", value, "contoso.com")  # type: ignore[arg-type]


def test_every_format_is_registered() -> None:
    assert set(FORMATS) == {
        "nsupdate",
        "zone",
        "azure-cli",
        "route53",
        "terraform-azurerm",
        "terraform-aws",
        "terraform-cloudflare",
        "powershell",
        "exchange",
    }


# --- nsupdate: applied to a zone with dnspython, as the round trip of the demo does ---------

ZONE = """\
$ORIGIN contoso.com.
@ 3600 IN SOA ns1 hostmaster 1 3600 600 86400 300
@ 3600 IN NS ns1
@ 3600 IN TXT "MS=ms12345"
@ 3600 IN TXT "v=spf1 -all"
selector1._domainkey 3600 IN CNAME selector1-contoso-com._domainkey.other.onmicrosoft.com.
"""


def _zone() -> dns.zone.Zone:
    return dns.zone.from_text(ZONE, origin="contoso.com", relativize=False)


def _txts(zone: dns.zone.Zone, owner: str) -> list[str]:
    rdataset = zone.get_rdataset(owner + ".", "TXT")
    return sorted(b"".join(r.strings).decode() for r in rdataset or ())


def test_nsupdate_round_trip_changes_exactly_what_the_fixes_say() -> None:
    fixes: list[Fix] = [
        _cname("delete", "selector1-contoso-com._domainkey.other.onmicrosoft.com"),
        _cname("create"),
        _txt(KEY, owner="selector2._domainkey.contoso.com"),
        _txt("v=spf1 -all", action="delete"),
        _txt("v=spf1 include:spf.protection.outlook.com -all"),
    ]
    text = render("nsupdate", _items(fixes))["nsupdate.txt"]
    zone = _zone()
    assert apply_nsupdate(text, {"contoso.com": zone}) == 5
    cname = zone.get_rdataset("selector1._domainkey.contoso.com.", "CNAME")
    assert [str(r.target) for r in cname] == [TARGET + "."]
    assert cname.ttl == 3600
    assert _txts(zone, "selector2._domainkey.contoso.com") == [KEY]
    # the other TXT at the apex (domain verification) stays
    assert _txts(zone, "contoso.com") == [
        "MS=ms12345",
        "v=spf1 include:spf.protection.outlook.com -all",
    ]


def test_nsupdate_layout_zone_comment_updates_send() -> None:
    ctx2 = FixContext("fabrikam.com", "spf", None, "two SPF records")
    items = [
        *_items([_cname("delete", None), _cname()]),
        (ctx2, RecordFix("replace", "fabrikam.com", "TXT", "v=spf1 -all", "fabrikam.com")),
    ]
    text = render("nsupdate", items)["nsupdate.txt"]
    body = [line for line in text.splitlines() if line and not line.startswith("; DNS")]
    blocks = "\n".join(line for line in body if not line.startswith(";  "))
    assert "zone contoso.com.\n; contoso.com dkim_cname selector1: points to another tenant\n" in (
        blocks
    )
    assert "update delete selector1._domainkey.contoso.com. CNAME\n" in text
    assert "zone fabrikam.com.\n; fabrikam.com spf: two SPF records\n" in text
    assert (
        "update delete fabrikam.com. TXT\nupdate add fabrikam.com. 3600 IN TXT "
        '"v=spf1 -all"\nsend\n'
    ) in text
    assert text.count("send\n") == 2
    for line in text.splitlines():
        assert not line or line.startswith((";", "zone ", "update ", "send")), line


@pytest.mark.parametrize("hostile", [*HOSTILE, "nul\x00byte"])
def test_nsupdate_and_zone_files_keep_a_hostile_txt_one_value(hostile: str) -> None:
    fixes: list[Fix] = [_txt(hostile, owner="_dmarc.contoso.com")]
    ctx = FixContext("contoso.com", "dmarc", None, hostile)  # the finding quotes it too
    files = render_all(_items(fixes, ctx))
    zone = _zone()
    apply_nsupdate(files["nsupdate.txt"], {"contoso.com": zone})
    assert _txts(zone, "_dmarc.contoso.com") == [hostile]
    zone_file = files["zone/contoso.com.zone"]
    parsed = dns.zone.from_text(
        "@ 3600 IN SOA ns1 h 1 2 3 4 5\n@ 3600 IN NS ns1\n" + zone_file,
        origin="contoso.com",
        relativize=False,
    )
    assert _txts(parsed, "_dmarc.contoso.com") == [hostile]


@pytest.mark.parametrize(
    "target", ['evil"name;rm.example', "sp ace.example", "dollar$(id).example", "at@x.example"]
)
def test_a_hostile_cname_target_stays_one_name(target: str) -> None:
    text = render("nsupdate", _items([_cname("delete", target)]))["nsupdate.txt"]
    zone = dns.zone.from_text(
        ZONE + f"sel2._domainkey 3600 IN CNAME {dns.name.from_text(target).to_text()}\n",
        origin="contoso.com",
        relativize=False,
    )
    fix = RecordFix("delete", "sel2._domainkey.contoso.com", "CNAME", target, "contoso.com")
    text = render("nsupdate", _items([fix]))["nsupdate.txt"]
    apply_nsupdate(text, {"contoso.com": zone})
    assert zone.get_rdataset("sel2._domainkey.contoso.com.", "CNAME") is None


def test_what_is_no_dns_name_is_refused_not_written() -> None:
    fixes: list[Fix] = [_cname("create", "a" * 64 + ".example"), _cname("create", "a..b")]
    text = render("nsupdate", _items(fixes))["nsupdate.txt"]
    assert text.count("; not rendered:") == 2
    assert "update add" not in text
    bad_type = RecordFix("create", "x.contoso.com", "TXT\nupdate", "v", "contoso.com")
    assert "update add" not in render("nsupdate", _items([bad_type]))["nsupdate.txt"]


def test_zone_file_names_cannot_leave_the_folder() -> None:
    for hostile in ("../../etc/passwd", ".hidden", "x/..", "..", "a\\b", "\x00"):
        stem = file_stem(hostile)
        assert "/" not in stem and "\\" not in stem and ".." not in stem, stem
        assert stem and not stem.startswith("."), stem
    assert file_stem("Contoso.COM.") == "contoso.com"
    fix = RecordFix("create", "a.x/..", "TXT", "v", "x/..")
    (path,) = render("zone", _items([fix]))
    assert path.startswith("zone/") and path.count("/") == 1


# --- Route 53: the documented ChangeBatch shape ----------------------------------------------
# https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html
# https://docs.aws.amazon.com/Route53/latest/APIReference/API_Change.html
# https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/ResourceRecordTypes.html#TXTFormat

BATCH_KEYS = {"Comment", "Changes"}
CHANGE_KEYS = {"Action", "ResourceRecordSet"}
ACTIONS = {"CREATE", "DELETE", "UPSERT"}
RRSET_KEYS = {"Name", "Type", "TTL", "ResourceRecords"}  # of the documented ones, those used


def validate_change_batch(batch: object) -> None:
    assert isinstance(batch, dict) and set(batch) <= BATCH_KEYS and "Changes" in batch
    assert isinstance(batch.get("Comment", ""), str) and len(batch.get("Comment", "")) <= 256
    assert isinstance(batch["Changes"], list) and batch["Changes"]
    for change in batch["Changes"]:
        assert set(change) == CHANGE_KEYS
        assert change["Action"] in ACTIONS
        rrset = change["ResourceRecordSet"]
        assert set(rrset) == RRSET_KEYS
        assert isinstance(rrset["Name"], str) and len(rrset["Name"]) <= 1024
        assert rrset["Type"] in {"A", "AAAA", "CNAME", "TXT", "MX", "NS", "CAA", "SRV", "PTR"}
        assert isinstance(rrset["TTL"], int) and 0 <= rrset["TTL"] <= 2147483647
        records = rrset["ResourceRecords"]
        assert isinstance(records, list) and records
        assert all(set(r) == {"Value"} and isinstance(r["Value"], str) for r in records)
        assert all(len(r["Value"]) <= 4000 for r in records)


def route53_txt(value: str) -> str:
    """A Route 53 TXT value (quoted strings, \\" \\\\ and \\ooo octal) back to its text."""
    out = bytearray()
    strings = 0
    i = 0
    while i < len(value):
        if value[i] == " ":
            i += 1
            continue
        assert value[i] == '"', value
        strings += 1
        part = bytearray()
        i += 1
        while value[i] != '"':
            if value[i] == "\\":
                if value[i + 1] in '"\\':
                    part.append(ord(value[i + 1]))
                    i += 2
                else:
                    part.append(int(value[i + 1 : i + 4], 8))
                    i += 4
            else:
                part.extend(value[i].encode())
                i += 1
        assert len(part) <= 255
        out.extend(part)
        i += 1
    return out.decode()


@pytest.mark.parametrize("hostile", [*HOSTILE, KEY, "nul\x00byte"])
def test_route53_change_batch_has_the_documented_shape(hostile: str) -> None:
    fixes: list[Fix] = [
        _cname("delete", "selector1-contoso-com._domainkey.other.onmicrosoft.com"),
        _cname(),
        _txt(hostile, action="replace", owner="_dmarc.contoso.com"),
    ]
    files = render("route53", _items(fixes))
    batch = json.loads(files["route53/contoso.com.json"])
    validate_change_batch(batch)
    actions = [(c["Action"], c["ResourceRecordSet"]["Type"]) for c in batch["Changes"]]
    assert actions == [("DELETE", "CNAME"), ("CREATE", "CNAME"), ("UPSERT", "TXT")]
    txt = batch["Changes"][2]["ResourceRecordSet"]
    assert txt["Name"] == "_dmarc.contoso.com."
    assert route53_txt(txt["ResourceRecords"][0]["Value"]) == hostile
    assert "change-resource-record-sets" in files["route53/NOTES.txt"]


def test_route53_cannot_delete_without_values_and_says_so() -> None:
    files = render("route53", _items([_cname("delete", None)]))
    assert "route53/contoso.com.json" not in files
    assert "not in the batch" in files["route53/NOTES.txt"]


# --- Terraform: parsed by python-hcl2 ----------------------------------------------------------


def hcl_value(literal: str) -> str:
    """An HCL quoted string literal (as python-hcl2 returns it) to its value; fails on any
    interpolation or directive, which would make Terraform evaluate text found in DNS."""
    assert literal.startswith('"') and literal.endswith('"'), literal
    body = literal[1:-1]
    out = []
    i = 0
    escapes = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
    while i < len(body):
        char = body[i]
        if char == "\\":
            nxt = body[i + 1]
            if nxt in escapes:
                out.append(escapes[nxt])
                i += 2
            elif nxt == "u":
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
            else:
                out.append(chr(int(body[i + 2 : i + 10], 16)))
                i += 10
        elif char in "$%" and body[i + 1 : i + 2] == "{":
            raise AssertionError(f"template sequence in {literal}")
        elif char in "$%" and body[i + 1 : i + 3] == char + "{":
            out.append(char + "{")
            i += 3
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _resources(text: str) -> dict[str, dict[str, dict[str, object]]]:
    parsed = hcl2.loads(text)
    out: dict[str, dict[str, dict[str, object]]] = {}
    for block in parsed.get("resource", []):
        for rtype, named in block.items():
            for name, body in named.items():
                out.setdefault(rtype.strip('"'), {})[name.strip('"')] = body
    return out


@pytest.mark.parametrize("hostile", [*HOSTILE, KEY])
def test_terraform_parses_and_keeps_values(hostile: str) -> None:
    fixes: list[Fix] = [_cname("delete", "x.example"), _cname(), _txt(hostile, action="replace")]
    ctx = FixContext("contoso.com", "spf", None, hostile)
    files = render_all(_items(fixes, ctx))
    azurerm = _resources(files["terraform/azurerm.tf"])
    cname = next(iter(azurerm["azurerm_dns_cname_record"].values()))
    assert hcl_value(str(cname["record"])) == TARGET
    assert hcl_value(str(cname["name"])) == "selector1._domainkey"
    txt = next(iter(azurerm["azurerm_dns_txt_record"].values()))
    record = txt["record"]
    record = record[0] if isinstance(record, list) else record
    assert isinstance(record, dict)
    assert hcl_value(str(record["value"])) == hostile
    assert hcl_value(str(txt["name"])) == "@"

    aws = _resources(files["terraform/aws.tf"])["aws_route53_record"]
    (aws_txt,) = [r for r in aws.values() if hcl_value(str(r["type"])) == "TXT"]
    records = aws_txt["records"]
    assert isinstance(records, list)
    raw = hcl_value(str(records[0]))
    # the provider's form: strings joined by "" with quote and backslash escaped
    strings = re.split(r'(?<!\\)""', raw)
    assert "".join(s.replace('\\"', '"').replace("\\\\", "\\") for s in strings) == hostile
    assert aws_txt["ttl"] == 3600

    cloudflare = _resources(files["terraform/cloudflare.tf"])["cloudflare_dns_record"]
    (cf_cname,) = [r for r in cloudflare.values() if hcl_value(str(r["type"])) == "CNAME"]
    assert hcl_value(str(cf_cname["content"])) == TARGET
    assert cf_cname["proxied"] is False


def test_terraform_says_how_to_delete_instead_of_faking_it() -> None:
    text = render("terraform-aws", _items([_cname("delete", "x.example")]))["terraform/aws.tf"]
    assert "aws_route53_record" not in _resources(text)
    assert "terraform import" in text
    assert "remove that block" in text


# --- Azure CLI: run by bash itself, with az recording its arguments -----------------------------
# Flags as documented in the Azure CLI reference:
# https://learn.microsoft.com/en-us/cli/azure/network/dns/record-set/cname
# https://learn.microsoft.com/en-us/cli/azure/network/dns/record-set/txt
AZ_FLAGS = {
    ("cname", "set-record"): {
        "--resource-group", "--zone-name", "--record-set-name", "--cname", "--if-none-match",
    },
    ("cname", "remove-record"): {
        "--resource-group", "--zone-name", "--record-set-name", "--cname",
        "--keep-empty-record-set",
    },
    ("cname", "delete"): {"--resource-group", "--zone-name", "--name", "--yes"},
    ("cname", "update"): {"--resource-group", "--zone-name", "--name", "--set"},
    ("txt", "add-record"): {
        "--resource-group", "--zone-name", "--record-set-name", "--value", "--if-none-match",
    },
    ("txt", "remove-record"): {
        "--resource-group", "--zone-name", "--record-set-name", "--value",
        "--keep-empty-record-set",
    },
    ("txt", "delete"): {"--resource-group", "--zone-name", "--name", "--yes"},
    ("txt", "update"): {"--resource-group", "--zone-name", "--name", "--set"},
}  # fmt: skip


def run_az_script(script: str, tmp_path: Path) -> list[list[str]]:
    """Run the script with bash, az being a function that records its argv."""
    path = tmp_path / "azure-cli.sh"
    path.write_text(script)
    log = tmp_path / "az.log"
    wrapper = (
        f"az() {{ printf '%s\\0' \"$@\" >> {shlex.quote(str(log))}; printf '\\n\\0' "
        f">> {shlex.quote(str(log))}; }}\nexport -f az\nsource {shlex.quote(str(path))}\n"
    )
    subprocess.run(
        ["bash", "-c", wrapper],
        cwd=tmp_path,
        env={"RESOURCE_GROUP": "rg-dns", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=True,
        timeout=30,
    )
    calls: list[list[str]] = [[]]
    for arg in log.read_bytes().split(b"\0")[:-1]:
        if arg == b"\n":
            calls.append([])
        else:
            calls[-1].append(arg.decode())
    return [c for c in calls if c]


def _flags(argv: list[str]) -> set[str]:
    return {a for a in argv if a.startswith("--")}


@pytest.mark.parametrize("hostile", [*HOSTILE, KEY])
def test_azure_cli_script_runs_as_written_and_injects_nothing(hostile: str, tmp_path: Path) -> None:
    fixes: list[Fix] = [
        _cname("delete", "selector1-contoso-com._domainkey.other.onmicrosoft.com"),
        _cname(),
        _txt(hostile, action="delete", owner="_dmarc.contoso.com"),
        _txt(hostile, action="replace"),
    ]
    ctx = FixContext("contoso.com", "spf", None, hostile)
    script = render("azure-cli", _items(fixes, ctx))["azure-cli.sh"]
    calls = run_az_script(script, tmp_path)
    assert not list(tmp_path.glob("PWNED*"))
    for argv in calls:
        assert argv[:3] == ["network", "dns", "record-set"], argv
        kind, verb = argv[3], argv[4]
        assert _flags(argv) <= AZ_FLAGS[(kind, verb)], argv
        assert argv[argv.index("--resource-group") + 1] == "rg-dns"
        assert argv[argv.index("--zone-name") + 1] == "contoso.com"
    verbs = [(a[3], a[4]) for a in calls]
    assert verbs == [
        ("cname", "remove-record"),
        ("cname", "set-record"),
        ("cname", "update"),
        ("txt", "remove-record"),
        ("txt", "delete"),
        ("txt", "add-record"),
        ("txt", "update"),
    ]
    set_record = calls[1]
    assert set_record[set_record.index("--cname") + 1] == TARGET
    for argv in (calls[3], calls[5]):
        values = argv[argv.index("--value") + 1 :]
        values = values[: next((i for i, v in enumerate(values) if v.startswith("--")), None)]
        assert "".join(values) == hostile  # strings are concatenated (az's --value)
        assert all(len(v.encode()) <= 255 for v in values)
    assert calls[2][-2:] == ["--set", "ttl=3600"]


def test_azure_cli_lines_are_shell_words_with_documented_flags() -> None:
    script = render("azure-cli", _items([_cname("delete", None), _cname(), _txt(KEY)]))
    for line in script["azure-cli.sh"].splitlines():
        if not line.startswith("az "):
            continue
        words = shlex.split(line)
        assert _flags(words) <= AZ_FLAGS[(words[4], words[5])], line


def test_azure_cli_refuses_a_nul_and_stops_without_a_resource_group(tmp_path: Path) -> None:
    script = render("azure-cli", _items([_txt("a\x00b")]))["azure-cli.sh"]
    assert "# not rendered:" in script and "add-record" not in script
    path = tmp_path / "s.sh"
    path.write_text(render("azure-cli", _items([_cname()]))["azure-cli.sh"])
    done = subprocess.run(
        ["/bin/bash", str(path)], env={"PATH": "/nonexistent"}, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "RESOURCE_GROUP" in done.stderr


# --- Windows DNS Server PowerShell: PowerShell's quoting rules, documented parameters ---------
# https://learn.microsoft.com/en-us/powershell/module/dnsserver/add-dnsserverresourcerecordcname
# https://learn.microsoft.com/en-us/powershell/module/dnsserver/add-dnsserverresourcerecord
# https://learn.microsoft.com/en-us/powershell/module/dnsserver/remove-dnsserverresourcerecord
# https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_quoting_rules
PS_PARAMETERS = {
    "Add-DnsServerResourceRecordCName": {
        "-HostNameAlias", "-AllowUpdateAny", "-Name", "-ComputerName", "-TimeToLive",
        "-ZoneName", "-AgeRecord", "-PassThru", "-ZoneScope",
    },
    "Add-DnsServerResourceRecord": {
        "-ZoneName", "-Name", "-Txt", "-DescriptiveText", "-TimeToLive", "-ComputerName",
        "-AgeRecord", "-AllowUpdateAny", "-PassThru", "-ZoneScope",
    },
    "Remove-DnsServerResourceRecord": {
        "-ZoneName", "-Name", "-RRType", "-RecordData", "-Force", "-ComputerName",
        "-PassThru", "-ZoneScope",
    },
}  # fmt: skip
PS_QUOTES = "'\u2018\u2019\u201a\u201b"


def ps_words(line: str) -> list[str]:
    """Split a command line by PowerShell's rules for what dkimwatch writes: bare words,
    single-quoted strings (a quote character doubled is one quote; nothing expands) and
    ('…' + [char]N + '…') expressions. Anything else ($, double quotes, ;, |, backquote
    outside quotes) fails: it would be evaluated."""
    words: list[str] = []
    i = 0

    def quoted(at: int) -> tuple[str, int]:
        assert line[at] in PS_QUOTES
        out = []
        at += 1
        while True:
            if line[at] in PS_QUOTES:
                if at + 1 < len(line) and line[at + 1] in PS_QUOTES:
                    out.append(line[at])
                    at += 2
                    continue
                return "".join(out), at + 1
            out.append(line[at])
            at += 1

    while i < len(line):
        char = line[i]
        if char == " ":
            i += 1
        elif char in PS_QUOTES:
            word, i = quoted(i)
            words.append(word)
        elif char == "(":
            parts = []
            i += 1
            while line[i] != ")":
                if line[i] in " +":
                    i += 1
                elif line[i] in PS_QUOTES:
                    word, i = quoted(i)
                    parts.append(word)
                else:
                    m = re.match(r"\[char\](\d+)", line[i:])
                    assert m, line[i:]
                    parts.append(chr(int(m.group(1))))
                    i += m.end()
            words.append("".join(parts))
            i += 1
        else:
            m = re.match(r"[A-Za-z0-9_-]+", line[i:])
            assert m, f"unexpected {line[i:]!r}"
            words.append(m.group(0))
            i += m.end()
    return words


@pytest.mark.parametrize("hostile", [*HOSTILE, "nul\x00byte"])
def test_windows_dns_cmdlets_keep_values_and_use_documented_parameters(hostile: str) -> None:
    fixes: list[Fix] = [
        _cname("delete", "selector1-contoso-com._domainkey.other.onmicrosoft.com"),
        _cname(),
        _txt(hostile, action="replace"),
        _txt(hostile, action="delete", owner="_dmarc.contoso.com"),
    ]
    ctx = FixContext("contoso.com", "spf", None, hostile)
    script = render("powershell", _items(fixes, ctx))["windows-dns.ps1"]
    commands = [ps_words(line) for line in script.splitlines() if line.startswith(("Add", "Rem"))]
    assert [c[0] for c in commands] == [
        "Remove-DnsServerResourceRecord",
        "Add-DnsServerResourceRecordCName",
        "Remove-DnsServerResourceRecord",
        "Add-DnsServerResourceRecord",
        "Remove-DnsServerResourceRecord",
    ]
    for words in commands:
        assert {w for w in words[1:] if w.startswith("-")} <= PS_PARAMETERS[words[0]], words

    def arg(words: list[str], name: str) -> str:
        return words[words.index(name) + 1]

    assert arg(commands[1], "-HostNameAlias") == TARGET
    assert arg(commands[1], "-TimeToLive") == "01:00:00"
    assert arg(commands[3], "-DescriptiveText") == hostile
    assert arg(commands[3], "-Name") == "@"
    assert arg(commands[4], "-RecordData") == hostile
    assert "-RecordData" not in commands[2]  # replace: every TXT at the name goes first


def test_powershell_quoting() -> None:
    assert powershell_quoted("plain") == "'plain'"
    assert powershell_quoted("it's") == "'it''s'"
    assert powershell_quoted("a\nb") == "('a' + [char]10 + 'b')"
    assert ps_words(powershell_quoted("‘$(x)’ `n")) == ["‘$(x)’ `n"]


# --- Exchange Online and support cases ---------------------------------------------------------


def test_exchange_cmdlets_and_support_case_facts() -> None:
    ctx = FixContext(
        "contoso.com",
        "dkim_target",
        "selector2",
        "no key published",
        since="2026-11-20T09:00:00Z",
        evidence=("selector2-contoso-com._domainkey.contoso.onmicrosoft.com TXT: NXDOMAIN",),
    )
    fixes: list[Fix] = [
        ExoFix("Rotate-DkimSigningConfig -Identity contoso.com", "publish the other key"),
        ExoFix("Set-DkimSigningConfig -Identity x\nRemove-Mailbox -Identity *", "hostile"),
        SupportCase("contoso.com", "selector2", TARGET.replace("selector1", "selector2"), "none"),
        Advice("Turn off proxying"),
    ]
    files = render("exchange", _items(fixes, ctx))
    script = files["exchange-online.ps1"].splitlines()
    assert "Rotate-DkimSigningConfig -Identity contoso.com" in script
    assert not any(line.startswith("Remove-Mailbox") for line in script)
    assert any(line.startswith("# not rendered") for line in script)
    cases = files["support-cases.txt"]
    for fact in ("domain:   contoso.com", "selector: selector2", "since:    2026-11-20T09:00:00Z"):
        assert fact in cases
    assert "NXDOMAIN" in cases


def test_dns_formats_name_what_they_cannot_apply() -> None:
    fixes: list[Fix] = [_cname(), ExoFix("Rotate-DkimSigningConfig -Identity contoso.com", "")]
    for fmt in ("nsupdate", "azure-cli", "powershell"):
        text = next(iter(render(fmt, _items(fixes)).values()))
        assert "Rotate-DkimSigningConfig" in text and "in Exchange Online" in text


# --- a replace of one record among others of its type -----------------------------------------

SPF_OLD = "v=spf1 -all"
SPF_NEW = "v=spf1 include:spf.protection.outlook.com -all"


def _spf_replace() -> RecordFix:
    return RecordFix("replace", "contoso.com", "TXT", SPF_NEW, "contoso.com", found=SPF_OLD)


def test_replacing_one_txt_keeps_the_others() -> None:
    files = render_all(_items([_spf_replace()]))
    zone = _zone()
    apply_nsupdate(files["nsupdate.txt"], {"contoso.com": zone})
    assert _txts(zone, "contoso.com") == ["MS=ms12345", SPF_NEW]  # verification TXT stays
    batch = json.loads(files["route53/contoso.com.json"])
    validate_change_batch(batch)
    assert [c["Action"] for c in batch["Changes"]] == ["DELETE", "CREATE"]  # never UPSERT
    values = [
        route53_txt(c["ResourceRecordSet"]["ResourceRecords"][0]["Value"]) for c in batch["Changes"]
    ]
    assert values == [SPF_OLD, SPF_NEW]
    az = [
        shlex.split(line) for line in files["azure-cli.sh"].splitlines() if line.startswith("az ")
    ]
    assert [a[5] for a in az] == ["remove-record", "add-record", "update"]
    assert az[0][az[0].index("--value") + 1] == SPF_OLD
    assert _flags(az[0]) <= AZ_FLAGS[("txt", "remove-record")]
    ps = [
        ps_words(line)
        for line in files["windows-dns.ps1"].splitlines()
        if line.startswith("Remove")
    ]
    assert ps[0][ps[0].index("-RecordData") + 1] == SPF_OLD
    assert "; delete: contoso.com. TXT (v=spf1 -all)" in files["zone/contoso.com.zone"]
