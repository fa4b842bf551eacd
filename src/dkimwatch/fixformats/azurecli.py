"""Azure DNS changes as Azure CLI commands (``az network dns record-set …``), a bash script.

The resource group of the zones is the one placeholder: the script stops at once unless
``RESOURCE_GROUP`` is set. Every value is one quoted bash word (dkimwatch.fixformats.base.
bash_quoted), so nothing found in DNS can run as a command. Commands and flags as documented
in the Azure CLI reference (https://learn.microsoft.com/cli/azure/network/dns/record-set):
``set-record --cname`` sets a CNAME record set's one value, ``add-record --value`` adds a TXT
record whose strings are concatenated, ``remove-record`` removes one record (and the set
with its last record), ``delete --yes`` deletes a record set, and ``update --set ttl=N``
sets its TTL (a set the CLI creates gets 3600).
"""

from __future__ import annotations

from collections.abc import Sequence

from dkimwatch.fixes import RecordFix, txt_strings
from dkimwatch.fixformats.base import (
    Files,
    FixItem,
    UnrenderableName,
    bash_quoted,
    command_script,
    record_type,
    replaced,
)

FILE = "azure-cli.sh"
RG = '--resource-group "$RESOURCE_GROUP"'
HEADER = """\
#!/usr/bin/env bash
# DNS changes proposed by dkimwatch, as Azure CLI commands for zones hosted in Azure DNS.
# Review them, sign in (az login), then run: RESOURCE_GROUP=my-dns-rg bash azure-cli.sh
set -euo pipefail
: "${RESOURCE_GROUP:?set RESOURCE_GROUP to the resource group of your Azure DNS zones}"
"""
# Record types with a record-set command group in the Azure CLI; a fix of another type is
# left as a comment.
TYPES = {"A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SRV", "TXT"}


def _base(kind: str, verb: str, zone: str) -> str:
    return f"az network dns record-set {kind} {verb} {RG} --zone-name {bash_quoted(zone)}"


def commands(fix: RecordFix) -> list[str]:
    """The az commands of one fix. Raises UnrenderableName."""
    rtype = record_type(fix.rtype)
    if rtype not in TYPES:
        raise UnrenderableName(f"Azure DNS has no record-set commands for {rtype}")
    kind = rtype.lower()
    host = bash_quoted(fix.host)
    delete_set = f"{_base(kind, 'delete', fix.zone)} --name {host} --yes"
    out: list[str] = []
    if fix.action == "delete":
        if fix.value is None:
            return [delete_set]
        if rtype == "CNAME":
            value = f"--cname {bash_quoted(fix.value)}"
        elif rtype == "TXT":
            value = "--value " + " ".join(bash_quoted(s) for s in txt_strings(fix.value))
        elif rtype in ("A", "AAAA"):
            flag = "--ipv4-address" if rtype == "A" else "--ipv6-address"
            value = f"{flag} {bash_quoted(fix.value)}"
        else:
            return [delete_set + f"  # the record set holding {bash_quoted(fix.value)}"]
        return [f"{_base(kind, 'remove-record', fix.zone)} --record-set-name {host} {value}"]
    assert fix.value is not None
    if rtype == "CNAME":
        # set-record replaces the one value a CNAME set may have: create and replace alike.
        out.append(
            f"{_base(kind, 'set-record', fix.zone)} --record-set-name {host} "
            f"--cname {bash_quoted(fix.value)}"
        )
    elif rtype == "TXT":
        found = replaced(fix)
        if fix.action == "replace" and found is None:
            out.append(delete_set)
        elif fix.action == "replace":
            old = " ".join(bash_quoted(s) for s in txt_strings(found or ""))
            out.append(
                f"{_base(kind, 'remove-record', fix.zone)} --record-set-name {host} "
                f"--value {old} --keep-empty-record-set"
            )
        strings = " ".join(bash_quoted(s) for s in txt_strings(fix.value))
        out.append(
            f"{_base(kind, 'add-record', fix.zone)} --record-set-name {host} --value {strings}"
        )
    else:
        raise UnrenderableName(f"dkimwatch does not write az commands to publish {rtype}")
    out.append(f"{_base(kind, 'update', fix.zone)} --name {host} --set ttl={int(fix.ttl)}")
    return out


def render(items: Sequence[FixItem]) -> Files:
    return command_script(items, FILE, HEADER, commands)
