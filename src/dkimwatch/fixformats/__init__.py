"""Fix formats: the same typed fixes (dkimwatch.fixes) in the language of each DNS host.

``FORMATS`` maps a format's name to its renderer; each takes a sequence of
(FixContext, fix) and returns text files by relative path (under ``reports/fixes/``).
"""

from __future__ import annotations

from collections.abc import Sequence

from dkimwatch.fixformats import azurecli, exchange, nsupdate, route53, terraform, windowsdns
from dkimwatch.fixformats import zonefile as zone
from dkimwatch.fixformats.base import Files, FixContext, FixItem, Format

FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("nsupdate", "RFC 2136 updates for nsupdate", nsupdate.render),
        Format("zone", "BIND zone-file lines, one file per zone", zone.render),
        Format("azure-cli", "Azure CLI (az network dns record-set)", azurecli.render),
        Format("route53", "Route 53 ChangeBatch JSON per hosted zone", route53.render),
        *(
            Format(name, f"Terraform, {name[10:]} provider", terraform.renderer(name))
            for name in terraform.PROVIDERS
        ),
        Format("powershell", "Windows DNS Server PowerShell", windowsdns.render),
        Format("exchange", "Exchange Online cmdlets and support-case facts", exchange.render),
    )
}


def render(fmt: str, items: Sequence[FixItem]) -> Files:
    """The files of one format. Raises KeyError for an unknown format."""
    return FORMATS[fmt].render(items)


def render_all(items: Sequence[FixItem]) -> Files:
    files: Files = {}
    for f in FORMATS.values():
        files.update(f.render(items))
    return files


__all__ = ["FORMATS", "Files", "FixContext", "FixItem", "Format", "render", "render_all"]
