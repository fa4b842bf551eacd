"""Exchange Online knowledge: the shapes of DKIM CNAME targets and how to judge them.

Targets come in two formats (docs/exchange-online.md, "DKIM CNAME targets"):
  classic  selector1-contoso-com._domainkey.contoso.onmicrosoft.com
  new      selector1-contoso-com._domainkey.contoso.n-v1.dkim.mail.microsoft
Neither can be derived safely (labels may drop hyphens or carry a suffix, the partition
letter is Microsoft's choice), so an export's SelectorNCNAME is the truth and the
shape check here is only the fallback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dkimwatch.names import normalise

_CLASSIC = re.compile(
    r"^(?P<label>[a-z0-9-]+)\._domainkey\.(?P<tenant>[a-z0-9-]+)\.onmicrosoft\.com$"
)
_NEW = re.compile(
    r"^(?P<label>[a-z0-9-]+)\._domainkey\.(?P<tenant>[a-z0-9-]+)\."
    r"(?P<partition>[a-z])-v1\.dkim\.mail\.microsoft$"
)
# Suffix Microsoft sometimes appends to long labels (…-service-gov-uk01be2e).
_SUFFIX = re.compile(r"^[a-z0-9]{0,12}$")


@dataclass(frozen=True)
class TargetShape:
    label: str
    tenant: str
    partition: str | None  # None for the classic onmicrosoft.com format

    @property
    def format(self) -> str:
        return "classic" if self.partition is None else f"{self.partition}-v1.dkim.mail.microsoft"


def same_name(a: str, b: str) -> bool:
    """DNS names compare case- and trailing-dot-insensitively."""
    return normalise(a) == normalise(b)


def parse_target(target: str) -> TargetShape | None:
    name = normalise(target)
    m = _CLASSIC.match(name)
    if m:
        return TargetShape(m["label"], m["tenant"], None)
    m = _NEW.match(name)
    if m:
        return TargetShape(m["label"], m["tenant"], m["partition"])
    return None


def domain_label(domain: str) -> str:
    """The documented label: dots become dashes (contoso.com → contoso-com)."""
    return normalise(domain).replace(".", "-")


def shaped_target(label: str, tenant: str, partition: str | None) -> str:
    """A target in the classic format (``partition`` None) or the new one."""
    if partition is None:
        return f"{label}._domainkey.{tenant.lower()}.onmicrosoft.com"
    return f"{label}._domainkey.{tenant.lower()}.{partition}-v1.dkim.mail.microsoft"


def classic_target(selector: str, domain: str, tenant: str) -> str:
    return shaped_target(f"{selector}-{domain_label(domain)}", tenant, None)


def sibling_target(target: str, sibling: str, selector: str) -> str | None:
    """The target of ``selector`` when ``target`` is the target of ``sibling`` (the domain's
    other selector): both selectors of a domain share the format, the partition letter,
    the tenant and the label after the selector. None when ``target`` has no such shape."""
    shape = parse_target(target)
    prefix = f"{sibling.lower()}-"
    if shape is None or not shape.label.startswith(prefix):
        return None
    label = f"{selector.lower()}-{shape.label[len(prefix) :]}"
    return shaped_target(label, shape.tenant, shape.partition)


def is_initial_domain(domain: str) -> bool:
    """The tenant's own *.onmicrosoft.com domain signs with another selector form: no CNAMEs."""
    return normalise(domain).endswith(".onmicrosoft.com")


def _squash(text: str) -> str:
    return text.replace("-", "").replace(".", "")


def judge_target(target: str, selector: str, domain: str, tenant: str | None) -> str | None:
    """None when ``target`` is a plausible Exchange Online target for this selector, domain and
    tenant; otherwise the reason it is not (one phrase)."""
    name = normalise(target)
    dom = normalise(domain)
    if name.endswith(f".{dom}") and parse_target(name[: -len(dom) - 1]):
        return f"the target has {dom} appended (a missing trailing dot in the zone)"
    shape = parse_target(name)
    if shape is None:
        return (
            "it is not an Exchange Online DKIM target (…._domainkey.<tenant>.onmicrosoft.com"
            " or …._domainkey.<tenant>.<letter>-v1.dkim.mail.microsoft)"
        )
    sel = selector.lower()
    if not shape.label.startswith(f"{sel}-"):
        other = shape.label.split("-", 1)[0]
        return f"it is the target of {other}, not of {sel}"
    rest = _squash(shape.label[len(sel) + 1 :])
    want = _squash(dom)
    if not rest.startswith(want) or not _SUFFIX.match(rest[len(want) :]):
        return f"its label {shape.label!r} is not derived from {dom}"
    if tenant is not None and shape.tenant != tenant.lower():
        return f"it belongs to tenant {shape.tenant!r}, not {tenant.lower()!r}"
    return None
