"""Amazon Route 53 change batches, one JSON file per hosted zone
(``route53/<zone>.json``), for
``aws route53 change-resource-record-sets --hosted-zone-id ID --change-batch file://…``.

The shape is the API's ChangeBatch (https://docs.aws.amazon.com/Route53/latest/APIReference/
API_ChangeResourceRecordSets.html): ``Comment`` and ``Changes``, each change an ``Action``
(CREATE, DELETE, UPSERT) and a ``ResourceRecordSet`` with ``Name``, ``Type``, ``TTL`` and
``ResourceRecords`` [{``Value``}]. Route 53 applies a batch whole or not at all. A TXT value
is its character-strings, each in double quotes with quote and backslash escaped and other
non-printable bytes as \\ooo octal (Developer Guide, "Supported DNS record types", TXT).
A DELETE must name the record set exactly as it is, TTL and every value included: dkimwatch
knows the values it found, not always the TTL, so a mismatch makes Route 53 refuse the
whole batch (nothing changes) and NOTES.txt says to check it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dkimwatch.fixes import RecordFix, txt_strings
from dkimwatch.fixformats.base import (
    Files,
    FixItem,
    UnrenderableName,
    by_zone,
    file_stem,
    one_line,
    record_type,
)

COMMENT_MAX = 256  # characters of a ChangeBatch Comment (API reference)
ACTIONS = {"create": "CREATE", "delete": "DELETE", "replace": "UPSERT"}


def txt_value(value: str) -> str:
    """A TXT record's value as Route 53 takes it: its quoted character-strings."""
    parts = []
    for string in txt_strings(value):
        out = []
        for byte in string.encode():
            char = chr(byte)
            if char in '"\\':
                out.append("\\" + char)
            elif 0x20 <= byte < 0x7F:
                out.append(char)
            else:
                out.append(f"\\{byte:03o}")
        parts.append('"' + "".join(out) + '"')
    return " ".join(parts)


def change(fix: RecordFix) -> dict[str, Any]:
    """One Change of a batch. Raises UnrenderableName."""
    rtype = record_type(fix.rtype)
    if fix.value is None:
        raise UnrenderableName(
            f"Route 53 deletes a record set only with its values: look up {rtype} "
            f"{one_line(fix.owner, 255)} in the console and delete it there"
        )
    value = txt_value(fix.value) if rtype == "TXT" else fix.value
    return {
        "Action": ACTIONS[fix.action],
        "ResourceRecordSet": {
            "Name": fix.owner.rstrip(".") + ".",
            "Type": rtype,
            "TTL": int(fix.ttl),
            "ResourceRecords": [{"Value": value}],
        },
    }


def render(items: Sequence[FixItem]) -> Files:
    files: Files = {}
    notes = [
        "Route 53 change batches proposed by dkimwatch, one file per hosted zone. Run each as:",
        "  aws route53 change-resource-record-sets --hosted-zone-id ZONE_ID \\",
        "      --change-batch file://route53/ZONE.json",
        "(ZONE_ID: aws route53 list-hosted-zones-by-name --dns-name ZONE). A batch is applied",
        "whole or not at all. A DELETE must match the record set as it is, TTL included:",
        "if Route 53 refuses a batch for that, set the TTL in the file to the one shown by",
        "  aws route53 list-resource-record-sets --hosted-zone-id ZONE_ID",
        "",
    ]
    for zone, findings in by_zone(items).items():
        changes: list[dict[str, Any]] = []
        headings: list[str] = []
        for ctx, fixes in findings:
            headings.append(ctx.heading())
            for fix in fixes:
                try:
                    changes.append(change(fix))
                except UnrenderableName as exc:
                    notes.append(f"{one_line(zone, 255)}: not in the batch: {exc}")
        if not changes:
            continue
        comment = one_line("dkimwatch: " + "; ".join(headings), COMMENT_MAX)
        batch = {"Comment": comment, "Changes": changes}
        name = f"route53/{file_stem(zone)}.json"
        files[name] = json.dumps(batch, indent=2, ensure_ascii=True) + "\n"
        notes.append(f"{name}: {len(changes)} change(s) for {one_line(zone, 255)}")
        notes.extend(f"  {h}" for h in headings)
    if files or len(notes) > 8:
        files["route53/NOTES.txt"] = "\n".join(notes) + "\n"
    return files
