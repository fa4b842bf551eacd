"""BIND master-file lines for the records to publish, one file per zone
(``zone/<zone>.zone``), to paste into the zone or to import where a host takes a zone file.

A zone file only says what is there, so a record to delete is a comment naming it; the
records a replace supersedes are named the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from dkimwatch.fixformats.base import (
    Files,
    FixItem,
    UnrenderableName,
    absolute_name,
    by_zone,
    file_stem,
    master_rdata,
    one_line,
    record_type,
    replaced,
)


def render(items: Sequence[FixItem]) -> Files:
    files: Files = {}
    for zone, findings in by_zone(items).items():
        lines = [
            f"; Records dkimwatch proposes for the zone {one_line(zone, 255)}, in master-file",
            "; syntax (RFC 1035 §5), absolute names. Deletions are comments: a zone file cannot",
            "; express them; remove those records from the zone by hand.",
        ]
        for ctx, fixes in findings:
            lines.append(f"; {ctx.heading()}")
            for fix in fixes:
                try:
                    owner = absolute_name(fix.owner)
                    record_type(fix.rtype)
                    if fix.action != "create":
                        was = fix.value if fix.action == "delete" else replaced(fix)
                        old = "every record" if was is None else one_line(was, 300)
                        lines.append(f"; delete: {owner} {fix.rtype} ({old})")
                    if fix.action != "delete":
                        assert fix.value is not None
                        value = master_rdata(fix.rtype, fix.value)
                        lines.append(f"{owner} {fix.ttl} IN {fix.rtype} {value}")
                except UnrenderableName as exc:
                    lines.append(f"; not rendered: {exc}")
        files[f"zone/{file_stem(zone)}.zone"] = "\n".join(lines) + "\n"
    return files
