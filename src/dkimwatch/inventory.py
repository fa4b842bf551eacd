"""The inventory: domains.yaml (version 1), validated into typed, immutable objects.

Every error is an InventoryError whose text is one line naming the file, the line,
the field and what was expected, so the CLI and the pytest plugin can show it as is.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import idna
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

CHECK_IDS = ("dkim_cname", "dkim_target", "dkim_key", "dkim_rotation", "spf", "dmarc")
POLICIES = ("none", "quarantine", "reject")
DEFAULT_SELECTORS: tuple[str, ...] = ("selector1", "selector2")

_TOP_KEYS = ("version", "tenant", "sources", "dns", "policy", "domains", "waivers")
_DNS_KEYS = ("nameservers", "zones", "timeout", "attempts")
_POLICY_KEYS = ("min_key_bits", "spf_require_include", "dmarc_min_policy")
_DOMAIN_KEYS = (
    "name",
    "selectors",
    "rotate_on",
    "selector_before_rotate",
    "selector_after_rotate",
    "enabled",
)
_WAIVER_KEYS = ("domain", "check", "reason", "expires")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SERVICE_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,62})$")  # _domainkey, _dmarc
_SELECTOR = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TENANT = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class InventoryError(Exception):
    """A bad inventory; str() is a single line: ``file:line: field: problem``."""


@dataclass(frozen=True)
class DnsSettings:
    nameservers: tuple[str, ...] = ("system",)
    zones: Path | None = None
    timeout: float = 2.0
    attempts: int = 3


@dataclass(frozen=True)
class Policy:
    min_key_bits: int = 1024
    spf_require_include: str | None = "spf.protection.outlook.com"
    dmarc_min_policy: str = "none"


@dataclass(frozen=True)
class Rotation:
    """When the signing selector changes: before ``rotate_on`` ``before`` signs, then ``after``."""

    rotate_on: datetime
    before: str
    after: str

    def active_selector(self, now: datetime) -> str:
        return self.after if now >= self.rotate_on else self.before


@dataclass(frozen=True)
class Domain:
    name: str  # A-label, lower case, no trailing dot: what is queried
    display: str  # as written by the user (U-label for IDNs)
    selectors: tuple[str, ...] = DEFAULT_SELECTORS
    targets: tuple[tuple[str, str], ...] = ()  # (selector, expected CNAME target)
    rotation: Rotation | None = None
    enabled: bool | None = None
    line: int = 0
    public_keys: tuple[tuple[str, str], ...] = ()  # (selector, key record) from an export
    status: str | None = None  # Get-DkimSigningConfig Status (Valid, CnameMissing, ...)
    source: str | None = None  # "<export>:<line>" when an export described this domain

    def target_for(self, selector: str) -> str | None:
        return dict(self.targets).get(selector)

    def public_key_for(self, selector: str) -> str | None:
        return dict(self.public_keys).get(selector)


@dataclass(frozen=True)
class Waiver:
    domain: str
    check: str
    reason: str
    expires: date | None
    line: int = 0

    def active(self, today: date) -> bool:
        return self.expires is None or today <= self.expires


@dataclass(frozen=True)
class Inventory:
    path: Path
    sha256: str
    tenant: str | None = None
    sources: tuple[Path, ...] = ()
    dns: DnsSettings = field(default_factory=DnsSettings)
    policy: Policy = field(default_factory=Policy)
    domains: tuple[Domain, ...] = ()
    waivers: tuple[Waiver, ...] = ()

    def domain(self, name: str) -> Domain:
        for d in self.domains:
            if d.name == name:
                return d
        raise KeyError(name)

    def waiver_for(self, domain: str, check: str) -> Waiver | None:
        for w in self.waivers:
            if w.domain == domain and w.check == check:
                return w
        return None


def to_alabel(name: str, *, service_labels: bool = False) -> str:
    """Normalise a domain name to lower-case A-labels with no trailing dot (IDNA 2008, UTS 46).

    ``service_labels`` admits underscore labels such as ``_domainkey`` (record names, not hosts).
    """
    text = name.strip().rstrip(".")
    if not text:
        raise ValueError("empty name")
    if text.isascii():
        out = text.lower()
    else:
        try:
            out = idna.encode(text, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise ValueError(f"not a valid internationalised name ({exc})") from None
    labels = out.split(".")
    pattern = _SERVICE_LABEL if service_labels else _LABEL
    for label in labels:
        if not pattern.match(label):
            if len(label.encode()) > 63:
                raise ValueError(f"label {label[:20]!r}… is longer than 63 bytes")
            raise ValueError(f"label {label!r} is not a valid host name label")
    if len(out) > 253:
        raise ValueError("name is longer than 253 bytes")
    if len(labels) < 2:
        raise ValueError("a mail domain needs at least two labels")
    return out


class _Reader:
    """Walks the YAML tree, producing errors that carry file and line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, line: int, where: str, problem: str) -> InventoryError:
        return InventoryError(f"{self.path}:{line}: {where}: {problem}")

    @staticmethod
    def key_line(node: CommentedMap, key: str) -> int:
        try:
            return int(node.lc.key(key)[0]) + 1
        except (KeyError, TypeError, AttributeError):
            return int(getattr(node.lc, "line", 0)) + 1

    @staticmethod
    def item_line(node: CommentedSeq, index: int) -> int:
        try:
            return int(node.lc.item(index)[0]) + 1
        except (KeyError, TypeError, AttributeError):
            return int(getattr(node.lc, "line", 0)) + 1

    def mapping(self, node: Any, line: int, where: str) -> CommentedMap:
        if not isinstance(node, CommentedMap):
            raise self.error(line, where, f"expected a mapping, got {_kind(node)}")
        return node

    def sequence(self, node: Any, line: int, where: str) -> CommentedSeq:
        if not isinstance(node, CommentedSeq):
            raise self.error(line, where, f"expected a list, got {_kind(node)}")
        return node

    def known_keys(self, node: CommentedMap, allowed: Sequence[str], where: str) -> None:
        for key in node:
            if not isinstance(key, str) or key not in allowed:
                hint = difflib.get_close_matches(str(key), list(allowed), n=1)
                more = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise self.error(
                    self.key_line(node, key),
                    f"{where}.{key}" if where else str(key),
                    f"unknown key{more}; expected one of {', '.join(allowed)}",
                )

    def string(self, node: CommentedMap, key: str, where: str) -> str:
        value = node[key]
        if not isinstance(value, str) or not value.strip():
            raise self.error(
                self.key_line(node, key), where, f"expected a non-empty string, got {_kind(value)}"
            )
        return value.strip()

    def integer(self, node: CommentedMap, key: str, where: str, low: int, high: int) -> int:
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(
                self.key_line(node, key),
                where,
                f"expected an integer from {low} to {high}, got {_show(value)}",
            )
        return value

    def number(self, node: CommentedMap, key: str, where: str, low: float, high: float) -> float:
        value = node[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise self.error(
                self.key_line(node, key),
                where,
                f"expected a number from {low} to {high}, got {_show(value)}",
            )
        return float(value)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, CommentedMap | dict):
        return "a mapping"
    if isinstance(value, CommentedSeq | list):
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"{str(value)[:40]!r}"


def _show(value: Any) -> str:
    return _kind(value)


def _parse_instant(text: str) -> datetime:
    """ISO 8601 instant; a value with no offset is taken as UTC (Exchange Online stores UTC)."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False

    # Keep timestamps as the text the user wrote; we parse them with explicit UTC rules.
    def as_text(constructor: Any, node: Any) -> str:
        return str(node.value)

    yaml.constructor.add_constructor("tag:yaml.org,2002:timestamp", as_text)
    return yaml


def load_inventory(path: Path | str) -> Inventory:
    """Read and validate an inventory file; raise InventoryError with a one-line message."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InventoryError(f"{path}:0: file: not found") from None
    except OSError as exc:
        raise InventoryError(f"{path}:0: file: cannot be read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InventoryError(f"{path}:0: file: expected UTF-8 text ({exc.reason})") from None
    try:
        root = _yaml().load(text)
    except DuplicateKeyError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise InventoryError(f"{path}:{line}: yaml: duplicate key") from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise InventoryError(f"{path}:{line}: yaml: {problem}") from None
    except YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid YAML"
        raise InventoryError(f"{path}:0: yaml: {first}") from None
    return _build(_Reader(path), root, hashlib.sha256(data).hexdigest())


def _build(r: _Reader, root: Any, sha256: str) -> Inventory:
    if root is None:
        raise r.error(1, "inventory", "the file is empty; expected 'version: 1' and 'domains:'")
    root = r.mapping(root, 1, "inventory")
    r.known_keys(root, _TOP_KEYS, "")
    if "version" not in root:
        raise r.error(1, "version", "missing; expected 'version: 1'")
    if root["version"] != 1 or isinstance(root["version"], bool):
        raise r.error(
            r.key_line(root, "version"), "version", f"expected 1, got {_show(root['version'])}"
        )

    tenant = None
    if root.get("tenant") is not None:
        tenant = r.string(root, "tenant", "tenant")
        if tenant.lower().endswith(".onmicrosoft.com"):
            tenant = tenant[: -len(".onmicrosoft.com")]
        if not _TENANT.match(tenant):
            raise r.error(
                r.key_line(root, "tenant"),
                "tenant",
                f"expected the initial domain label (contoso for contoso.onmicrosoft.com), "
                f"got {tenant!r}",
            )

    sources, exported = _sources(r, root)
    if tenant is None:
        tenant = _tenant_from_exports(exported)

    dns = _dns(r, root)
    policy = _policy(r, root)
    domains = _merge(_domains(r, root, tenant, required=not sources), exported)
    waivers = _waivers(r, root, domains)
    return Inventory(
        path=r.path,
        sha256=sha256,
        tenant=tenant,
        sources=sources,
        dns=dns,
        policy=policy,
        domains=domains,
        waivers=waivers,
    )


def _dns(r: _Reader, root: CommentedMap) -> DnsSettings:
    if root.get("dns") is None:
        return DnsSettings()
    node = r.mapping(root["dns"], r.key_line(root, "dns"), "dns")
    r.known_keys(node, _DNS_KEYS, "dns")
    nameservers: tuple[str, ...] = ("system",)
    if node.get("nameservers") is not None:
        line = r.key_line(node, "nameservers")
        seq = r.sequence(node["nameservers"], line, "dns.nameservers")
        if not seq:
            raise r.error(line, "dns.nameservers", "expected at least one nameserver")
        items = []
        for i, item in enumerate(seq):
            try:
                items.append(parse_nameserver(str(item)) if item != "system" else "system")
            except ValueError as exc:
                raise r.error(r.item_line(seq, i), "dns.nameservers", str(exc)) from None
        nameservers = tuple(items)
    zones = None
    if node.get("zones") is not None:
        zones = (r.path.parent / r.string(node, "zones", "dns.zones")).resolve()
        if not zones.is_dir():
            raise r.error(
                r.key_line(node, "zones"), "dns.zones", f"expected a directory, {zones} is not one"
            )
    timeout = r.number(node, "timeout", "dns.timeout", 0.05, 60) if "timeout" in node else 2.0
    attempts = r.integer(node, "attempts", "dns.attempts", 1, 10) if "attempts" in node else 3
    return DnsSettings(nameservers=nameservers, zones=zones, timeout=timeout, attempts=attempts)


def parse_nameserver(text: str) -> str:
    """Validate ``HOST[:PORT]`` / ``[V6]:PORT`` and return it normalised as ``HOST:PORT``."""
    import ipaddress

    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"expected [IPv6]:PORT, got {text!r}")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"expected [IPv6]:PORT, got {text!r}")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        if not port_text.isdigit():
            raise ValueError(f"expected HOST:PORT with a numeric port, got {text!r}")
        port = int(port_text)
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"expected an IP address (optionally :PORT), got {text!r}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be 1..65535, got {port}")
    return f"[{addr}]:{port}" if addr.version == 6 else f"{addr}:{port}"


def _policy(r: _Reader, root: CommentedMap) -> Policy:
    if root.get("policy") is None:
        return Policy()
    node = r.mapping(root["policy"], r.key_line(root, "policy"), "policy")
    r.known_keys(node, _POLICY_KEYS, "policy")
    bits = (
        r.integer(node, "min_key_bits", "policy.min_key_bits", 512, 16384)
        if "min_key_bits" in node
        else 1024
    )
    include: str | None = "spf.protection.outlook.com"
    if "spf_require_include" in node:
        if node["spf_require_include"] is None or node["spf_require_include"] is False:
            include = None
        else:
            raw = r.string(node, "spf_require_include", "policy.spf_require_include")
            try:
                include = to_alabel(raw)
            except ValueError as exc:
                raise r.error(
                    r.key_line(node, "spf_require_include"), "policy.spf_require_include", str(exc)
                ) from None
    minimum = "none"
    if "dmarc_min_policy" in node:
        minimum = r.string(node, "dmarc_min_policy", "policy.dmarc_min_policy").lower()
        if minimum not in POLICIES:
            raise r.error(
                r.key_line(node, "dmarc_min_policy"),
                "policy.dmarc_min_policy",
                f"expected one of none, quarantine, reject, got {minimum!r}",
            )
    return Policy(min_key_bits=bits, spf_require_include=include, dmarc_min_policy=minimum)


def _domains(
    r: _Reader, root: CommentedMap, tenant: str | None, *, required: bool = True
) -> tuple[Domain, ...]:
    if not required and not root.get("domains"):
        return ()  # the exports list the domains
    if root.get("domains") is None:
        raise r.error(
            r.key_line(root, "domains") if "domains" in root else 1,
            "domains",
            "missing or empty; expected a list of domain names",
        )
    seq = r.sequence(root["domains"], r.key_line(root, "domains"), "domains")
    if not seq:
        raise r.error(r.key_line(root, "domains"), "domains", "expected at least one domain")
    seen: dict[str, int] = {}
    out: list[Domain] = []
    for i, item in enumerate(seq):
        line = r.item_line(seq, i)
        domain = _domain(r, item, line, i)
        if domain.name in seen:
            raise r.error(
                line,
                f"domains[{i}]",
                f"duplicate domain {domain.display!r} (first listed on line {seen[domain.name]})",
            )
        seen[domain.name] = line
        out.append(domain)
    return tuple(out)


def _domain(r: _Reader, item: Any, line: int, index: int) -> Domain:
    where = f"domains[{index}]"
    if isinstance(item, str):
        return Domain(name=_name(r, item, line, where), display=item.strip(), line=line)
    node = r.mapping(item, line, where)
    if "name" not in node:
        raise r.error(line, f"{where}.name", "missing; expected the domain name")
    display = r.string(node, "name", f"{where}.name")
    name = _name(r, display, r.key_line(node, "name"), f"{where}.name")
    where = f"domains[{display}]"

    selectors = DEFAULT_SELECTORS
    if node.get("selectors") is not None:
        sline = r.key_line(node, "selectors")
        seq = r.sequence(node["selectors"], sline, f"{where}.selectors")
        if not seq:
            raise r.error(sline, f"{where}.selectors", "expected at least one selector")
        chosen: list[str] = []
        for i, sel in enumerate(seq):
            if not isinstance(sel, str) or not _SELECTOR.match(sel):
                raise r.error(
                    r.item_line(seq, i),
                    f"{where}.selectors",
                    f"expected a selector name such as selector1, got {_show(sel)}",
                )
            if sel.lower() in chosen:
                raise r.error(r.item_line(seq, i), f"{where}.selectors", f"duplicate {sel!r}")
            chosen.append(sel.lower())
        selectors = tuple(chosen)

    allowed = (
        *_DOMAIN_KEYS,
        *(f"{s}_cname" for s in selectors),
        *(f"{s}_public_key" for s in selectors),
    )
    r.known_keys(node, allowed, where)

    targets: list[tuple[str, str]] = []
    for sel in selectors:
        key = f"{sel}_cname"
        if node.get(key) is not None:
            raw = r.string(node, key, f"{where}.{key}")
            try:
                target = to_alabel(raw, service_labels=True)
            except ValueError as exc:
                raise r.error(r.key_line(node, key), f"{where}.{key}", str(exc)) from None
            if "._domainkey." not in f".{target}.":
                raise r.error(
                    r.key_line(node, key),
                    f"{where}.{key}",
                    f"expected a target like {sel}-contoso-com._domainkey.contoso.onmicrosoft.com,"
                    f" got {raw!r}",
                )
            targets.append((sel, target))

    public_keys: list[tuple[str, str]] = []
    for sel in selectors:
        key = f"{sel}_public_key"
        if node.get(key) is not None:
            value = r.string(node, key, f"{where}.{key}")
            if "p=" not in value.replace(" ", ""):
                raise r.error(
                    r.key_line(node, key),
                    f"{where}.{key}",
                    "expected a DKIM key record such as 'v=DKIM1; k=rsa; p=MIIB…' "
                    f"(Get-DkimSigningConfig {sel.capitalize()}PublicKey)",
                )
            public_keys.append((sel, value))

    rotation = _rotation(r, node, where, selectors)
    enabled = None
    if node.get("enabled") is not None:
        if not isinstance(node["enabled"], bool):
            raise r.error(
                r.key_line(node, "enabled"),
                f"{where}.enabled",
                f"expected true or false, got {_show(node['enabled'])}",
            )
        enabled = node["enabled"]
    return Domain(
        name=name,
        display=display,
        selectors=selectors,
        targets=tuple(targets),
        rotation=rotation,
        enabled=enabled,
        line=line,
        public_keys=tuple(public_keys),
    )


def _rotation(
    r: _Reader, node: CommentedMap, where: str, selectors: tuple[str, ...]
) -> Rotation | None:
    keys = ("rotate_on", "selector_before_rotate", "selector_after_rotate")
    present = [k for k in keys if node.get(k) is not None]
    if not present:
        return None
    if len(present) != len(keys):
        missing = next(k for k in keys if k not in present)
        raise r.error(
            r.key_line(node, present[0]),
            f"{where}.{missing}",
            "missing; rotate_on, selector_before_rotate and selector_after_rotate go together",
        )
    raw = node["rotate_on"]
    try:
        rotate_on = _parse_instant(str(raw))
    except ValueError:
        raise r.error(
            r.key_line(node, "rotate_on"),
            f"{where}.rotate_on",
            f"expected an ISO 8601 instant such as 2026-04-10T10:00:00Z, got {_show(raw)}",
        ) from None
    chosen = []
    for key in keys[1:]:
        sel = r.string(node, key, f"{where}.{key}").lower()
        if sel not in selectors:
            raise r.error(
                r.key_line(node, key),
                f"{where}.{key}",
                f"expected one of the domain's selectors ({', '.join(selectors)}), got {sel!r}",
            )
        chosen.append(sel)
    return Rotation(rotate_on=rotate_on, before=chosen[0], after=chosen[1])


def _name(r: _Reader, raw: Any, line: int, where: str) -> str:
    if not isinstance(raw, str):
        raise r.error(line, where, f"expected a domain name, got {_show(raw)}")
    try:
        return to_alabel(raw)
    except ValueError as exc:
        raise r.error(line, where, f"{raw.strip()!r} is not a valid domain name: {exc}") from None


def _waivers(r: _Reader, root: CommentedMap, domains: tuple[Domain, ...]) -> tuple[Waiver, ...]:
    if root.get("waivers") is None:
        return ()
    seq = r.sequence(root["waivers"], r.key_line(root, "waivers"), "waivers")
    names = {d.name for d in domains}
    out = []
    for i, item in enumerate(seq):
        line = r.item_line(seq, i)
        where = f"waivers[{i}]"
        node = r.mapping(item, line, where)
        r.known_keys(node, _WAIVER_KEYS, where)
        for key in ("domain", "check", "reason"):
            if key not in node:
                raise r.error(line, f"{where}.{key}", "missing")
        domain = _name(r, node["domain"], r.key_line(node, "domain"), f"{where}.domain")
        if domain not in names:
            raise r.error(
                r.key_line(node, "domain"),
                f"{where}.domain",
                f"{node['domain']!r} is not a domain of this inventory",
            )
        check = r.string(node, "check", f"{where}.check")
        if check not in CHECK_IDS:
            hint = difflib.get_close_matches(check, CHECK_IDS, n=1)
            more = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise r.error(
                r.key_line(node, "check"),
                f"{where}.check",
                f"unknown check {check!r}{more}; expected one of {', '.join(CHECK_IDS)}",
            )
        reason = r.string(node, "reason", f"{where}.reason")
        expires = None
        if node.get("expires") is not None:
            try:
                expires = date.fromisoformat(str(node["expires"]).strip()[:10])
            except ValueError:
                raise r.error(
                    r.key_line(node, "expires"),
                    f"{where}.expires",
                    f"expected a date such as 2027-01-31, got {_show(node['expires'])}",
                ) from None
        out.append(Waiver(domain, check, reason, expires, line))
    return tuple(out)


_SOURCE_KEYS = ("path", "culture")


def _sources(r: _Reader, root: CommentedMap) -> tuple[tuple[Path, ...], list[Domain]]:
    """Read the Get-DkimSigningConfig exports named by ``sources:`` (paths relative to the
    inventory) into domains; each entry is a path, or a mapping with path and culture."""
    if root.get("sources") is None:
        return (), []
    from dkimwatch.exo_export import ExportError, load_export

    line = r.key_line(root, "sources")
    seq = r.sequence(root["sources"], line, "sources")
    paths: list[Path] = []
    domains: dict[str, Domain] = {}
    for i, item in enumerate(seq):
        iline = r.item_line(seq, i)
        culture = None
        if isinstance(item, CommentedMap):
            r.known_keys(item, _SOURCE_KEYS, f"sources[{i}]")
            if "path" not in item:
                raise r.error(iline, f"sources[{i}].path", "missing; expected an export's path")
            raw = r.string(item, "path", f"sources[{i}].path")
            if item.get("culture") is not None:
                culture = r.string(item, "culture", f"sources[{i}].culture")
        elif isinstance(item, str) and item.strip():
            raw = item.strip()
        else:
            raise r.error(
                iline, f"sources[{i}]", f"expected the path of an export, got {_kind(item)}"
            )
        path = Path(raw)
        if not path.is_absolute():
            path = r.path.parent / path
        if not path.is_file():
            raise r.error(iline, f"sources[{i}]", f"{raw}: no such file")
        try:
            configs = load_export(path, culture=culture)
        except ExportError as exc:
            raise InventoryError(str(exc)) from None
        paths.append(path)
        for config in configs:
            try:
                name = to_alabel(config.domain)
            except ValueError as exc:
                raise InventoryError(
                    f"{path}:{config.line}: Domain: {config.domain!r} is not a valid domain "
                    f"name: {exc}"
                ) from None
            domains[name] = _exported_domain(name, config, f"{path}:{config.line}")
    return tuple(paths), list(domains.values())


def _exported_domain(name: str, config: Any, source: str) -> Domain:
    """A domain as Get-DkimSigningConfig describes it."""
    targets = []
    keys = []
    for sel, cname, key in (
        ("selector1", config.selector1_cname, config.selector1_public_key),
        ("selector2", config.selector2_cname, config.selector2_public_key),
    ):
        if cname:
            try:
                targets.append((sel, to_alabel(cname, service_labels=True)))
            except ValueError as exc:
                raise InventoryError(
                    f"{source}: {sel.capitalize()}CNAME: {cname!r} is not a DNS name: {exc}"
                ) from None
        if key and key.strip():
            keys.append((sel, key.strip()))
    rotation = None
    before, after = config.selector_before_rotate, config.selector_after_rotate
    if config.rotate_on is not None and before in DEFAULT_SELECTORS and after in DEFAULT_SELECTORS:
        rotation = Rotation(rotate_on=config.rotate_on, before=before, after=after)
    return Domain(
        name=name,
        display=config.domain,
        targets=tuple(targets),
        rotation=rotation,
        enabled=config.enabled,
        public_keys=tuple(keys),
        status=config.status,
        source=source,
    )


def _merge(listed: tuple[Domain, ...], exported: list[Domain]) -> tuple[Domain, ...]:
    """The inventory's entries override what the exports say, field by field; domains only
    in an export are audited too (the export is the tenant's own list)."""
    by_name = {d.name: d for d in exported}
    out: list[Domain] = []
    for d in listed:
        base = by_name.pop(d.name, None)
        if base is None:
            out.append(d)
            continue
        targets = dict(base.targets)
        targets.update(d.targets)
        out.append(
            Domain(
                name=d.name,
                display=d.display,
                selectors=d.selectors,
                targets=tuple((s, targets[s]) for s in d.selectors if s in targets),
                rotation=d.rotation or base.rotation,
                enabled=base.enabled if d.enabled is None else d.enabled,
                line=d.line,
                public_keys=tuple({**dict(base.public_keys), **dict(d.public_keys)}.items()),
                status=base.status,
                source=base.source,
            )
        )
    out.extend(by_name.values())
    return tuple(out)


def _tenant_from_exports(domains: list[Domain]) -> str | None:
    """The tenant's initial-domain label, from an *.onmicrosoft.com domain or a CNAME target."""
    for d in domains:
        if d.name.endswith(".onmicrosoft.com") and d.name.count(".") == 2:
            return d.name.split(".")[0]
    for d in domains:
        for _, target in d.targets:
            labels = target.split("._domainkey.", 1)[-1].split(".")
            if labels and _TENANT.match(labels[0]):
                return labels[0]
    return None


def iter_selector_cases(inventory: Inventory) -> Iterator[tuple[Domain, str]]:
    """(domain, selector) pairs in the stable order tests are parametrized in."""
    for domain in inventory.domains:
        for selector in domain.selectors:
            yield domain, selector
