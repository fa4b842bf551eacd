"""Windows DNS Server changes as PowerShell (DnsServer module), ``windows-dns.ps1``.

Cmdlets and parameters as documented (https://learn.microsoft.com/powershell/module/
dnsserver/): ``Add-DnsServerResourceRecordCName -ZoneName -Name -HostNameAlias
-TimeToLive``, ``Add-DnsServerResourceRecord -Txt -DescriptiveText``, and
``Remove-DnsServerResourceRecord -ZoneName -Name -RRType [-RecordData] -Force`` (without
-RecordData it removes every record of that type at the name). Run it on the DNS server or
add ``-ComputerName``. Every value is a single-quoted PowerShell string (nothing expands;
control characters as [char] codes), so nothing found in DNS can run as a command.
"""

from __future__ import annotations

from collections.abc import Sequence

from dkimwatch.fixes import RecordFix
from dkimwatch.fixformats.base import (
    Files,
    FixItem,
    UnrenderableName,
    command_script,
    powershell_quoted,
    record_type,
    replaced,
)

FILE = "windows-dns.ps1"
HEADER = """\
# DNS changes proposed by dkimwatch, for zones on a Windows DNS Server (DnsServer module).
# Review them, then run in an elevated PowerShell on the DNS server (or add -ComputerName).
$ErrorActionPreference = 'Stop'
"""
# -RRType values as the cmdlet spells them.
RRTYPES = {"CNAME": "CName", "TXT": "Txt", "A": "A", "AAAA": "AAAA", "MX": "Mx", "NS": "Ns"}


def timespan(seconds: int) -> str:
    """A TTL as the [TimeSpan] text -TimeToLive takes (d.hh:mm:ss)."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return (
        f"'{days}.{hours:02d}:{minutes:02d}:{secs:02d}'"
        if days
        else (f"'{hours:02d}:{minutes:02d}:{secs:02d}'")
    )


def commands(fix: RecordFix) -> list[str]:
    """The cmdlets of one fix. Raises UnrenderableName."""
    rtype = record_type(fix.rtype)
    if rtype not in RRTYPES:
        raise UnrenderableName(f"dkimwatch writes no Windows DNS cmdlet for {rtype}")
    where = f"-ZoneName {powershell_quoted(fix.zone)} -Name {powershell_quoted(fix.host)}"
    remove = f"Remove-DnsServerResourceRecord {where} -RRType {RRTYPES[rtype]}"
    if fix.action == "delete":
        data = "" if fix.value is None else f" -RecordData {powershell_quoted(fix.value)}"
        return [f"{remove}{data} -Force"]
    assert fix.value is not None
    out: list[str] = []
    if fix.action == "replace":
        found = replaced(fix)
        data = "" if found is None else f" -RecordData {powershell_quoted(found)}"
        out.append(f"{remove}{data} -Force")
    ttl = f"-TimeToLive {timespan(fix.ttl)}"
    if rtype == "CNAME":
        out.append(
            f"Add-DnsServerResourceRecordCName {where} "
            f"-HostNameAlias {powershell_quoted(fix.value)} {ttl}"
        )
    elif rtype == "TXT":
        out.append(
            f"Add-DnsServerResourceRecord {where} -Txt "
            f"-DescriptiveText {powershell_quoted(fix.value)} {ttl}"
        )
    else:
        raise UnrenderableName(f"dkimwatch writes no Windows DNS cmdlet to publish {rtype}")
    return out


def render(items: Sequence[FixItem]) -> Files:
    return command_script(items, FILE, HEADER, commands)
