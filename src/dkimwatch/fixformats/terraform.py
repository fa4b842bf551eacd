"""Terraform resources for three providers, one file each:

- ``terraform/azurerm.tf``: hashicorp/azurerm ≥ 3.0, ``azurerm_dns_cname_record``
  (``record``) and ``azurerm_dns_txt_record`` (one ``record { value }`` block per record);
- ``terraform/aws.tf``: hashicorp/aws, ``aws_route53_record`` (``records``; a TXT value
  over 255 characters written with ``\\"\\"`` between its strings, as the resource's
  documentation says);
- ``terraform/cloudflare.tf``: cloudflare/cloudflare 5.x, ``cloudflare_dns_record``
  (``content``, ``ttl``, ``proxied = false``: a DKIM CNAME must answer as itself).

Strings are HCL quoted templates: quote, backslash and control characters escaped, and
``${``/``%{`` doubled (``$${``, ``%%{``) so that nothing found in DNS is interpolated.

Terraform manages the records it owns. A record to delete or replace is a comment saying
what to do: remove (or change) its resource block if the record is in your configuration;
if it is not, Terraform cannot delete it (delete it at the provider, or import it first).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from dkimwatch.fixes import RecordFix, txt_strings
from dkimwatch.fixformats.base import (
    Files,
    FixItem,
    UnrenderableName,
    by_zone,
    one_line,
    record_type,
    replaced,
)


def hcl_string(text: str) -> str:
    """An HCL quoted string whose value is exactly ``text``."""
    out = []
    i = 0
    while i < len(text):
        char = text[i]
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif char in "$%" and nxt == "{":
            out.append(char + char)
        elif not char.isprintable() and char != " ":
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
        else:
            out.append(char)
        i += 1
    return '"' + "".join(out) + '"'


_IDENT = re.compile(r"[^a-z0-9_]")


class _Names:
    """Resource names: identifiers made of the owner name, unique within a file."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, rtype: str, owner: str) -> str:
        base = _IDENT.sub("_", f"{rtype.lower()}_{owner.lower()}").strip("_")[:60] or "record"
        name, n = base, 1
        while name in self.used:
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name


def _zone_var(zone: str) -> str:
    return _IDENT.sub("_", zone.lower()).strip("_")[:60] or "zone"


Block = Callable[[RecordFix, str, str], list[str]]


def _azurerm(fix: RecordFix, name: str, _zone_var_name: str) -> list[str]:
    assert fix.value is not None
    head = [
        f"  name                = {hcl_string(fix.host)}",
        f"  zone_name           = {hcl_string(fix.zone)}",
        "  resource_group_name = var.dns_resource_group",
        f"  ttl                 = {int(fix.ttl)}",
    ]
    if fix.rtype == "CNAME":
        return [
            f'resource "azurerm_dns_cname_record" "{name}" {{',
            *head,
            f"  record              = {hcl_string(fix.value)}",
            "}",
        ]
    if fix.rtype == "TXT":
        return [
            f'resource "azurerm_dns_txt_record" "{name}" {{',
            *head,
            "  record {",
            f"    value = {hcl_string(fix.value)}",
            "  }",
            "}",
        ]
    raise UnrenderableName(f"dkimwatch writes no azurerm resource for {fix.rtype}")


def _aws(fix: RecordFix, name: str, zone_var: str) -> list[str]:
    assert fix.value is not None
    if fix.rtype == "TXT":
        # The provider quotes the value itself; "" separates the 255-byte strings.
        strings = [s.replace("\\", "\\\\").replace('"', '\\"') for s in txt_strings(fix.value)]
        value = '""'.join(strings)
    else:
        value = fix.value
    return [
        f'resource "aws_route53_record" "{name}" {{',
        f"  zone_id = var.route53_zone_id_{zone_var}",
        f"  name    = {hcl_string(fix.owner)}",
        f"  type    = {hcl_string(fix.rtype)}",
        f"  ttl     = {int(fix.ttl)}",
        f"  records = [{hcl_string(value)}]",
        "}",
    ]


def _cloudflare(fix: RecordFix, name: str, zone_var: str) -> list[str]:
    assert fix.value is not None
    if fix.rtype == "TXT":
        content = " ".join(
            '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in txt_strings(fix.value)
        )
    else:
        content = fix.value
    return [
        f'resource "cloudflare_dns_record" "{name}" {{',
        f"  zone_id = var.cloudflare_zone_id_{zone_var}",
        f"  name    = {hcl_string(fix.owner)}",
        f"  type    = {hcl_string(fix.rtype)}",
        f"  content = {hcl_string(content)}",
        f"  ttl     = {int(fix.ttl)}",
        "  proxied = false",
        "}",
    ]


PROVIDERS: dict[str, tuple[str, str, Block]] = {
    # format name: (file, header, block writer)
    "terraform-azurerm": (
        "terraform/azurerm.tf",
        'variable "dns_resource_group" {\n'
        "  type        = string\n"
        '  description = "The resource group of the Azure DNS zones"\n'
        "}\n",
        _azurerm,
    ),
    "terraform-aws": ("terraform/aws.tf", "", _aws),
    "terraform-cloudflare": ("terraform/cloudflare.tf", "", _cloudflare),
}
ZONE_VARS = {"terraform-aws": "route53_zone_id", "terraform-cloudflare": "cloudflare_zone_id"}


def _delete_comment(fix: RecordFix) -> list[str]:
    was = fix.value if fix.action == "delete" else replaced(fix)
    old = "every record" if was is None else one_line(was, 300)
    verb = "replaced" if fix.action == "replace" else "to delete"
    return [
        f"# {verb}: {fix.rtype} {one_line(fix.owner, 255)} ({old}).",
        "#   If your configuration has a resource for it: remove that block (or, to replace,",
        "#   change its value instead of adding the one below) and apply. If it has none,",
        "#   Terraform does not manage it: delete it at the provider, or terraform import it",
        "#   first.",
    ]


def renderer(fmt: str) -> Callable[[Sequence[FixItem]], Files]:
    path, header, block = PROVIDERS[fmt]

    def render(items: Sequence[FixItem]) -> Files:
        names = _Names()
        lines = [
            f"# DNS changes proposed by dkimwatch, as Terraform resources ({fmt[10:]}).",
            "# Review them, merge them into your configuration, then terraform plan.",
        ]
        if header:
            lines.append(header)
        zones = by_zone(items)
        if not zones:
            return {}  # nothing to change in DNS
        if fmt in ZONE_VARS:
            for zone in zones:
                lines.append(
                    f'variable "{ZONE_VARS[fmt]}_{_zone_var(zone)}" {{\n'
                    f"  type        = string\n"
                    f"  description = {hcl_string('Zone ID of ' + zone)}\n"
                    "}\n"
                )
        for findings in zones.values():
            for ctx, fixes in findings:
                lines.append(f"# {ctx.heading()}")
                for fix in fixes:
                    try:
                        record_type(fix.rtype)
                        if fix.action != "create":
                            lines.extend(_delete_comment(fix))
                        if fix.action != "delete":
                            name = names(fix.rtype, fix.owner)
                            lines.extend(block(fix, name, _zone_var(fix.zone)))
                    except UnrenderableName as exc:
                        lines.append(f"# not rendered: {exc}")
                lines.append("")
        return {path: "\n".join(lines).rstrip("\n") + "\n"}

    return render
