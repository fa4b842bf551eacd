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

from dkimwatch.fixes import RecordFix, txt_strings, zone_quoted
from dkimwatch.fixformats.base import (
    Files,
    FixItem,
    UnrenderableName,
    by_zone,
    file_stem,
    one_line,
    record_type,
    replaced,
)

COMMENT_MAX = 256  # characters of a ChangeBatch Comment (API reference)
ACTIONS = {"create": "CREATE", "delete": "DELETE", "replace": "UPSERT"}


def txt_value(value: str) -> str:
    """A TXT record's value as Route 53 takes it: its quoted character-strings."""
    return " ".join(zone_quoted(string, octal=True) for string in txt_strings(value))


def _change(action: str, fix: RecordFix, value: str) -> dict[str, Any]:
    return {
        "Action": action,
        "ResourceRecordSet": {
            "Name": fix.owner.rstrip(".") + ".",
            "Type": fix.rtype,
            "TTL": int(fix.ttl),
            "ResourceRecords": [{"Value": txt_value(value) if fix.rtype == "TXT" else value}],
        },
    }


def changes(fix: RecordFix) -> list[dict[str, Any]]:
    """The Changes of one fix. Raises UnrenderableName.

    Route 53 changes whole record sets. A replace of one TXT record among others is a
    DELETE of the record found and a CREATE of the new one: if the set holds other records,
    Route 53 refuses the DELETE and with it the batch (nothing changes), where an UPSERT
    would silently drop them."""
    record_type(fix.rtype)
    if fix.value is None:
        raise UnrenderableName(
            f"Route 53 deletes a record set only with its values: look up {fix.rtype} "
            f"{one_line(fix.owner, 255)} in the console and delete it there"
        )
    found = replaced(fix)
    if fix.action == "replace" and found is not None and fix.rtype != "CNAME":
        return [_change("DELETE", fix, found), _change("CREATE", fix, fix.value)]
    return [_change(ACTIONS[fix.action], fix, fix.value)]


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
        batch_changes: list[dict[str, Any]] = []
        headings: list[str] = []
        for ctx, fixes in findings:
            headings.append(ctx.heading())
            for fix in fixes:
                try:
                    batch_changes.extend(changes(fix))
                except UnrenderableName as exc:
                    notes.append(f"{one_line(zone, 255)}: not in the batch: {exc}")
        if not batch_changes:
            continue
        comment = one_line("dkimwatch: " + "; ".join(headings), COMMENT_MAX)
        batch = {"Comment": comment, "Changes": batch_changes}
        name = f"route53/{file_stem(zone)}.json"
        files[name] = json.dumps(batch, indent=2, ensure_ascii=True) + "\n"
        notes.append(f"{name}: {len(batch_changes)} change(s) for {one_line(zone, 255)}")
        notes.extend(f"  {h}" for h in headings)
    if files or len(notes) > 8:
        files["route53/NOTES.txt"] = "\n".join(notes) + "\n"
    return files
