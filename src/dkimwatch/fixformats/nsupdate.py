"""RFC 2136 dynamic updates in nsupdate's syntax (``nsupdate -k KEYFILE nsupdate.txt``).

One block per zone: ``zone``, the finding's ``update delete`` / ``update add`` lines under a
``;`` comment naming the domain, check and finding, then ``send``, which applies the
block as one update message. Names are absolute and escaped, TXT values quoted and cut into
255-byte strings (dkimwatch.fixes.zone_rdata), so a value found in DNS is one datum.
"""

from __future__ import annotations

from collections.abc import Sequence

from dkimwatch.fixes import RecordFix
from dkimwatch.fixformats.base import (
    Files,
    FixItem,
    UnrenderableName,
    absolute_name,
    by_zone,
    findings_lines,
    master_rdata,
    record_type,
    replaced,
    script_end,
)

FILE = "nsupdate.txt"
HEADER = """\
; DNS changes proposed by dkimwatch, as RFC 2136 dynamic updates in nsupdate syntax.
; Review them, then: nsupdate -k KEYFILE nsupdate.txt   (or nsupdate -g with GSS-TSIG)
; Each `send` applies its zone's block as one update. nsupdate sends to the primary named
; in the zone's SOA; put `server HOST [PORT]` above a `zone` line to send elsewhere.
"""


def _data(fix: RecordFix) -> str:
    assert fix.value is not None
    return master_rdata(fix.rtype, fix.value)


def update_lines(fix: RecordFix) -> list[str]:
    """The update lines of one fix. Raises UnrenderableName."""
    owner = absolute_name(fix.owner)
    record_type(fix.rtype)
    if fix.action == "delete":
        if fix.value is None:
            return [f"update delete {owner} {fix.rtype}"]
        return [f"update delete {owner} {fix.rtype} {_data(fix)}"]
    add = f"update add {owner} {fix.ttl} IN {fix.rtype} {_data(fix)}"
    if fix.action == "replace":
        found = replaced(fix)
        if found is None or fix.rtype == "CNAME":  # a CNAME set holds one record
            return [f"update delete {owner} {fix.rtype}", add]
        return [f"update delete {owner} {fix.rtype} {master_rdata(fix.rtype, found)}", add]
    return [add]


def render(items: Sequence[FixItem]) -> Files:
    lines = [HEADER]
    zones = by_zone(items)
    if not zones:
        lines.append("; nothing to change in DNS")
    for zone, findings in zones.items():
        try:
            zone_line = f"zone {absolute_name(zone)}"
        except UnrenderableName as exc:
            lines.append(f"; not rendered: {exc}")
            continue
        lines.append(zone_line)
        lines.extend(findings_lines(findings, update_lines, ";"))
        lines.append("send")
        lines.append("")
    return {FILE: script_end(lines, items, ";")}
