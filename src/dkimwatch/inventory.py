"""The inventory: domains.yaml (version 1), validated into typed, immutable objects.

The objects are dkimwatch.model's (re-exported here); this module is their YAML loader.
Every error is an InventoryError whose text is one line naming the file, the line,
the field and what was expected, so the CLI and the pytest plugin can show it as is.
"""

from __future__ import annotations

import dataclasses
import difflib
import gc
import hashlib
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver

from dkimwatch import registry
from dkimwatch.instants import iso_instant, parse_instant
from dkimwatch.model import (
    DEFAULT_SELECTORS,
    DnsSettings,
    Domain,
    Inventory,
    Policy,
    Rotation,
    Waiver,
)
from dkimwatch.names import infer_tenant, parse_nameserver, tenant_label, to_alabel
from dkimwatch.standards import POLICIES

if TYPE_CHECKING:
    from dkimwatch.exo_accepted import AcceptedDomain
    from dkimwatch.exo_export import SigningConfig

__all__ = [
    "DEFAULT_SELECTORS",
    "DnsSettings",
    "Domain",
    "Inventory",
    "InventoryError",
    "Policy",
    "Rotation",
    "Waiver",
    "load_inventory",
    "parse_nameserver",
    "to_alabel",
]

_TOP_KEYS = ("version", "tenant", "sources", "dns", "policy", "domains", "waivers")
_DNS_KEYS = ("nameservers", "zones", "timeout", "attempts")
_POLICY_KEYS = ("min_key_bits", "spf_require_include", "dmarc_min_policy", "mx")
MX_POLICIES = ("exchange_online", "any", "off")
_DOMAIN_KEYS = (
    "name",
    "selectors",
    "rotate_on",
    "selector_before_rotate",
    "selector_after_rotate",
    "enabled",
)
_WAIVER_KEYS = ("domain", "check", "reason", "expires")
_SELECTOR = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class InventoryError(Exception):
    """A bad inventory; str() is a single line: ``file:line: field: problem``."""


class _YamlMap(dict[Any, Any]):
    """A YAML mapping that knows its 1-based line and the line of each key written in it."""

    __slots__ = ("key_lines", "line")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}  # keys merged in with << fall back to self.line


class _YamlList(list[Any]):
    """A YAML sequence that knows its 1-based line and the line of each item."""

    __slots__ = ("item_lines", "line")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


class _Reader:
    """Walks the YAML tree, producing errors that carry file and line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, line: int, where: str, problem: str) -> InventoryError:
        return InventoryError(f"{self.path}:{line}: {where}: {problem}")

    @staticmethod
    def key_line(node: _YamlMap, key: str) -> int:
        return node.key_lines.get(key, node.line)

    @staticmethod
    def item_line(node: _YamlList, index: int) -> int:
        return node.item_lines[index] if 0 <= index < len(node.item_lines) else node.line

    def mapping(self, node: Any, line: int, where: str) -> _YamlMap:
        if not isinstance(node, _YamlMap):
            raise self.error(line, where, f"expected a mapping, got {_kind(node)}")
        return node

    def sequence(self, node: Any, line: int, where: str) -> _YamlList:
        if not isinstance(node, _YamlList):
            raise self.error(line, where, f"expected a list, got {_kind(node)}")
        return node

    def known_keys(self, node: _YamlMap, allowed: Sequence[str], where: str) -> None:
        for key in node:
            if not isinstance(key, str) or key not in allowed:
                hint = difflib.get_close_matches(str(key), list(allowed), n=1)
                more = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise self.error(
                    self.key_line(node, key),
                    f"{where}.{key}" if where else str(key),
                    f"unknown key{more}; expected one of {', '.join(allowed)}",
                )

    def string(self, node: _YamlMap, key: str, where: str) -> str:
        value = node[key]
        if not isinstance(value, str) or not value.strip():
            raise self.error(
                self.key_line(node, key), where, f"expected a non-empty string, got {_kind(value)}"
            )
        return value.strip()

    def choice(
        self, node: _YamlMap, key: str, where: str, choices: tuple[str, ...], named: str = ""
    ) -> str | None:
        """One of ``choices`` (any case; ``named`` says what they are), or None when ``key``
        is absent."""
        if key not in node:
            return None
        value = self.string(node, key, f"{where}.{key}").lower()
        if value not in choices:
            allowed = f"{named} ({', '.join(choices)})" if named else ", ".join(choices)
            raise self.error(
                self.key_line(node, key),
                f"{where}.{key}",
                f"expected one of {allowed}, got {value!r}",
            )
        return value

    def integer(self, node: _YamlMap, key: str, where: str, low: int, high: int) -> int:
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(
                self.key_line(node, key),
                where,
                f"expected an integer from {low} to {high}, got {_show(value)}",
            )
        return value

    def number(self, node: _YamlMap, key: str, where: str, low: float, high: float) -> float:
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
    if isinstance(value, dict):  # _YamlMap
        return "a mapping"
    if isinstance(value, list):  # _YamlList
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"{str(value)[:40]!r}"


def _show(value: Any) -> str:
    return _kind(value)


_TAG = "tag:yaml.org,2002:"
_MERGE = _TAG + "merge"
# The C composer recurses on the C stack per nesting level and crashes the process (SIGSEGV)
# somewhere past 20,000 levels with an 8 MiB stack; files that might nest deeper than this get
# the pure-Python parser, which raises RecursionError instead.
_C_MAX_DEPTH = 10_000

# What one run can take on a 2-core, 24 GB machine (memory and time grow with the domain
# count: bench/RESULTS.md). The file size is checked before parsing, so a huge file is
# refused at once rather than after minutes of YAML; the size limit leaves room for a
# 50,000-domain inventory in the long form.
MAX_DOMAINS = 50_000
MAX_INVENTORY_BYTES = 20_000_000
SPLIT_HINT = (
    "run the estate as shards (--shard I/N, then dkimwatch merge), or split the domains "
    "into several inventories and run pytest once for each "
    "(--domains=PART.yaml --reports=reports-PART)"
)
_NOT_FLOW = re.compile(r"[^\[\]{}]+")


class _Yaml12Resolver(VersionedResolver):
    """Always the YAML 1.2 rules. ruamel looks the document's %YAML version up per scalar
    through caught AttributeErrors with the C parser (a large share of its time), which ignores
    %YAML 1.1 anyway: fixing the version keeps both parsers fast and in agreement."""

    @property
    def processing_version(self) -> Any:
        return (1, 2)


def _text(node: ScalarNode) -> str:
    return str(node.value)


def _short_tag(tag: str | None) -> str:
    tag = tag or "!"
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _may_nest_deeper(text: str, limit: int) -> bool:
    """An upper bound: whether ``text`` could nest collections more than ``limit`` deep."""
    # Block collections nest by indentation: at most two levels per column.
    longest = max(map(len, text.splitlines()), default=0)
    if 2 * longest > limit // 2:
        return True
    # Flow collections nest only by [ and { (brackets inside quotes only overestimate).
    brackets = _NOT_FLOW.sub("", text)
    if len(brackets) <= limit // 2:
        return False
    depth = deepest = 0
    for ch in brackets:
        depth = depth + 1 if ch in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    return deepest > limit // 2


class _TreeBuilder:
    """Turns composed YAML nodes into the tree _Reader walks: _YamlMap, _YamlList and plain
    scalars. Timestamps stay the text written: parse_instant applies explicit UTC rules."""

    def __init__(self, path: Path, constructor: SafeConstructor) -> None:
        self.path = path
        self.scalars: dict[str, Callable[[ScalarNode], Any]] = {
            _TAG + "str": constructor.construct_yaml_str,
            _TAG + "null": constructor.construct_yaml_null,
            _TAG + "bool": constructor.construct_yaml_bool,
            _TAG + "int": constructor.construct_yaml_int,
            _TAG + "float": constructor.construct_yaml_float,
            _TAG + "timestamp": _text,
            # A plain = or << (but as a mapping key) is just text here.
            _TAG + "value": _text,
            _MERGE: _text,
        }
        self.built: dict[int, Any] = {}  # id(node) → its value: aliases share it
        self.building: set[int] = set()  # collections being built, to catch recursive aliases

    def error(self, node: Node, problem: str) -> InventoryError:
        return InventoryError(f"{self.path}:{node.start_mark.line + 1}: yaml: {problem}")

    def build(self, node: Node) -> Any:
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        key = id(node)
        if key in self.built:
            return self.built[key]
        if key in self.building:
            raise self.error(node, "an alias refers to a collection that contains it")
        self.building.add(key)
        assert isinstance(node, MappingNode | SequenceNode), node
        value = self.mapping(node) if isinstance(node, MappingNode) else self.sequence(node)
        self.building.discard(key)
        self.built[key] = value
        return value

    def scalar(self, node: ScalarNode) -> Any:
        tag = node.tag or ""
        construct = self.scalars.get(tag)
        if construct is None:
            raise self.error(node, f"unsupported tag {_short_tag(tag)}")
        try:
            return construct(node)
        except (ValueError, KeyError, IndexError):  # an explicit !!int x, !!bool maybe, ...
            raise self.error(
                node, f"{node.value[:40]!r} is not a valid {_short_tag(tag)}"
            ) from None

    def mapping(self, node: MappingNode) -> _YamlMap:
        if node.tag != _TAG + "map":
            raise self.error(node, f"unsupported tag {_short_tag(node.tag)}")
        out = _YamlMap(node.start_mark.line + 1)
        merges: list[_YamlMap] | None = None
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE:
                if merges is not None:
                    raise InventoryError(f"{self.path}:{line}: yaml: duplicate key")
                merges = self.merge_sources(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                raise self.error(key_node, "expected a name as key, got a list or mapping")
            key = self.scalar(key_node)
            if key in out:
                raise InventoryError(f"{self.path}:{line}: yaml: duplicate key")
            out[key] = self.build(value_node)
            out.key_lines[key] = line
        # Explicit keys win, then earlier merged mappings over later ones.
        for source in merges or ():
            for key, value in source.items():
                out.setdefault(key, value)
        return out

    def merge_sources(self, node: Node) -> list[_YamlMap]:
        nodes = node.value if isinstance(node, SequenceNode) else [node]
        for item in nodes:
            if not isinstance(item, MappingNode):
                raise self.error(item, "expected a mapping or list of mappings for merging (<<)")
        return [self.build(item) for item in nodes]

    def sequence(self, node: SequenceNode) -> _YamlList:
        if node.tag != _TAG + "seq":
            raise self.error(node, f"unsupported tag {_short_tag(node.tag)}")
        out = _YamlList(node.start_mark.line + 1)
        for item in node.value:
            out.append(self.build(item))
            out.item_lines.append(item.start_mark.line + 1)
        return out


def _load_yaml(path: Path, text: str) -> Any:
    """The document as a tree of _YamlMap, _YamlList and scalars (None when empty), parsed by
    libyaml (ruamel.yaml.clib) when installed, else by ruamel.yaml's pure-Python parser."""
    yaml = YAML(typ="safe", pure=_may_nest_deeper(text, _C_MAX_DEPTH))
    yaml.Resolver = _Yaml12Resolver
    collecting = gc.isenabled()
    # Parsing allocates a dozen objects per line and frees none: collections midway find no
    # garbage and cost much of the time on large inventories.
    gc.disable()
    try:
        node = yaml.compose(text)
        return None if node is None else _TreeBuilder(path, yaml.constructor).build(node)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise InventoryError(f"{path}:{line}: yaml: {problem}") from None
    except YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid YAML"
        raise InventoryError(f"{path}:0: yaml: {first}") from None
    except RecursionError:
        raise InventoryError(f"{path}:0: yaml: nested too deeply") from None
    finally:
        if collecting:
            gc.enable()


def load_inventory(path: Path | str) -> Inventory:
    """Read and validate an inventory file; raise InventoryError with a one-line message."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_INVENTORY_BYTES:
            raise InventoryError(
                f"{path}:0: file: {size / 1e6:.1f} MB, above the limit of "
                f"{MAX_INVENTORY_BYTES / 1e6:.0f} MB for one inventory (at most "
                f"{MAX_DOMAINS:,} domains a run); {SPLIT_HINT}"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise InventoryError(f"{path}:0: file: not found") from None
    except OSError as exc:
        raise InventoryError(f"{path}:0: file: cannot be read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InventoryError(f"{path}:0: file: expected UTF-8 text ({exc.reason})") from None
    root = _load_yaml(path, text)
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
        try:
            tenant = tenant_label(r.string(root, "tenant", "tenant"))
        except ValueError as exc:
            raise r.error(r.key_line(root, "tenant"), "tenant", str(exc)) from None

    sources, exported, dkim_given = _sources(r, root)
    if tenant is None:
        tenant = infer_tenant(
            (t for d in exported for _, t in d.targets), (d.name for d in exported)
        )

    dns = _dns(r, root)
    policy = _policy(r, root)
    domains = _merge(_domains(r, root, tenant, required=not sources), exported)
    if dkim_given:  # the DKIM export is the tenant's list: a domain not in it has no config
        domains = tuple(
            d if d.exo_dkim is not None else dataclasses.replace(d, exo_dkim="missing")
            for d in domains
        )
    if len(domains) > MAX_DOMAINS:  # with sources: the exports' domains count too
        raise _too_many(r, r.key_line(root, "domains") if "domains" in root else 1, len(domains))
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
        tenant_given=root.get("tenant") is not None,
    )


def _dns(r: _Reader, root: _YamlMap) -> DnsSettings:
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


def _policy(r: _Reader, root: _YamlMap) -> Policy:
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
    minimum = r.choice(node, "dmarc_min_policy", "policy", POLICIES) or "none"
    mx = r.choice(node, "mx", "policy", MX_POLICIES) or "any"
    return Policy(min_key_bits=bits, spf_require_include=include, dmarc_min_policy=minimum, mx=mx)


def _domains(
    r: _Reader, root: _YamlMap, tenant: str | None, *, required: bool = True
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
    if len(seq) > MAX_DOMAINS:  # before validating each of them
        raise _too_many(r, r.key_line(root, "domains"), len(seq))
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


def _too_many(r: _Reader, line: int, count: int) -> InventoryError:
    return r.error(
        line,
        "domains",
        f"{count:,} domains, above the limit of {MAX_DOMAINS:,} for one run; {SPLIT_HINT}",
    )


# Long: one domains: entry's fields, each validated in the order domains.yaml documents them.
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
    r: _Reader, node: _YamlMap, where: str, selectors: tuple[str, ...]
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
        rotate_on = parse_instant(str(raw))
    except ValueError:
        raise r.error(
            r.key_line(node, "rotate_on"),
            f"{where}.rotate_on",
            f"expected an ISO 8601 instant such as 2026-04-10T10:00:00Z, got {_show(raw)}",
        ) from None
    before, after = (
        r.choice(node, k, where, selectors, "the domain's selectors") for k in keys[1:]
    )
    assert before is not None and after is not None  # present, as said above
    return Rotation(rotate_on=rotate_on, before=before, after=after)


def _name(r: _Reader, raw: Any, line: int, where: str) -> str:
    if not isinstance(raw, str):
        raise r.error(line, where, f"expected a domain name, got {_show(raw)}")
    try:
        return to_alabel(raw)
    except ValueError as exc:
        raise r.error(line, where, f"{raw.strip()!r} is not a valid domain name: {exc}") from None


def _waivers(r: _Reader, root: _YamlMap, domains: tuple[Domain, ...]) -> tuple[Waiver, ...]:
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
        if check not in registry.BY_ID:
            hint = difflib.get_close_matches(check, registry.IDS, n=1)
            more = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise r.error(
                r.key_line(node, "check"),
                f"{where}.check",
                f"unknown check {check!r}{more}; expected one of {', '.join(registry.IDS)}",
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


_SOURCE_KEYS = ("path", "culture", "max_age")
_AGE = re.compile(r"^([0-9]{1,6})\s*([smhd])$")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


# Long: each sources: entry's form (path or mapping) and both export kinds, read in one pass.
def _sources(r: _Reader, root: _YamlMap) -> tuple[tuple[Path, ...], list[Domain], bool]:
    """Read the exports named by ``sources:`` (paths relative to the inventory) into
    domains: Get-DkimSigningConfig and Get-AcceptedDomain exports, told apart by their
    fields. Each entry is a path, or a mapping with path, culture and max_age. Also says
    whether a DKIM export was among them."""
    if root.get("sources") is None:
        return (), [], False
    # The export readers are imported only for an inventory that names exports.
    from dkimwatch.exo_accepted import export_kind, load_accepted
    from dkimwatch.exo_export import ExportError, load_export

    line = r.key_line(root, "sources")
    seq = r.sequence(root["sources"], line, "sources")
    paths: list[Path] = []
    domains: dict[str, Domain] = {}
    accepted: list[tuple[AcceptedDomain, str]] = []
    dkim_given = False
    for i, item in enumerate(seq):
        iline = r.item_line(seq, i)
        culture = None
        max_age: tuple[int, str] | None = None
        if isinstance(item, _YamlMap):
            r.known_keys(item, _SOURCE_KEYS, f"sources[{i}]")
            if "path" not in item:
                raise r.error(iline, f"sources[{i}].path", "missing; expected an export's path")
            raw = r.string(item, "path", f"sources[{i}].path")
            if item.get("culture") is not None:
                culture = r.string(item, "culture", f"sources[{i}].culture")
            if item.get("max_age") is not None:
                max_age = _max_age(r, item, f"sources[{i}].max_age")
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
            data = path.read_bytes()
            if max_age is not None:
                _fresh_enough(r, item, i, path, data, max_age)
            if export_kind(data, str(path)) == "accepted":
                accepted.extend((a, f"{path}:{a.line}") for a in load_accepted(path))
                paths.append(path)
                continue
            configs = load_export(path, culture=culture)
        except ExportError as exc:
            raise InventoryError(str(exc)) from None
        except OSError as exc:
            raise r.error(
                iline, f"sources[{i}]", f"{raw}: cannot be read ({exc.strerror})"
            ) from None
        paths.append(path)
        dkim_given = True
        for config in configs:
            try:
                name = to_alabel(config.domain)
            except ValueError as exc:
                raise InventoryError(
                    f"{path}:{config.line}: Domain: {config.domain!r} is not a valid domain "
                    f"name: {exc}"
                ) from None
            domains[name] = _exported_domain(name, config, f"{path}:{config.line}")
    for entry, where in accepted:
        # Every accepted domain is audited; a DKIM export's entry keeps its fields.
        known = domains.get(entry.alabel)
        if known is None:
            known = Domain(name=entry.alabel, display=entry.domain, source=where)
        domains[entry.alabel] = dataclasses.replace(
            known,
            sending_disabled=known.sending_disabled or bool(entry.sending_disabled),
            coexistence=known.coexistence or entry.is_coexistence,
        )
    return tuple(paths), list(domains.values()), dkim_given


def _max_age(r: _Reader, node: _YamlMap, where: str) -> tuple[int, str]:
    """``26h``, ``90m``, ``2d``, ``3600s`` → (seconds, as written)."""
    value = node["max_age"]
    text = str(value).strip().lower() if isinstance(value, str | int) else ""
    m = _AGE.match(text)
    if isinstance(value, bool) or not m or int(m[1]) == 0:
        raise r.error(
            r.key_line(node, "max_age"),
            where,
            f"expected an age such as 26h, 90m, 2d or 3600s, got {_show(value)}",
        )
    return int(m[1]) * _AGE_UNITS[m[2]], text


def _fresh_enough(
    r: _Reader, item: _YamlMap, index: int, path: Path, data: bytes, max_age: tuple[int, str]
) -> None:
    """An export older than its max_age stops the run: no audit of stale data. Its age is
    from the time written inside (ExportedAt, examples/exo/export.ps1), else from the
    file's modification time."""
    from dkimwatch.exo_accepted import exported_at

    inside = exported_at(data, str(path))
    made = inside or datetime.fromtimestamp(path.stat().st_mtime, UTC)
    age = (datetime.now(UTC) - made).total_seconds()
    seconds, written = max_age
    if age > seconds:
        how = "its ExportedAt" if inside else "its modification time"
        raise r.error(
            r.key_line(item, "max_age"),
            f"sources[{index}].max_age",
            f"{path.name} is {_age_text(age)} old ({how}: {iso_instant(made)}), more than "
            f"max_age {written}: export it again before auditing (did the export step fail?)",
        )


def _age_text(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours or days else []
    return " ".join([*parts, f"{mins}m"])


def _exported_domain(name: str, config: SigningConfig, source: str) -> Domain:
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
        exo_dkim="unset"
        if config.enabled is None
        else ("enabled" if config.enabled else "disabled"),
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
                exo_dkim=base.exo_dkim,
                sending_disabled=base.sending_disabled,
                coexistence=base.coexistence,
            )
        )
    out.extend(by_name.values())
    return tuple(out)


# --- many tenants in one run ----------------------------------------------------------------


def tenant_name(inventory: Inventory) -> str:
    """The name a tenant goes by in a run of many inventories (results, failures.csv,
    badges, ``-k``): the inventory's tenant, else its file name without ``.yaml``."""
    return (inventory.tenant or inventory.path.stem).lower()


def inventory_files(given: Sequence[Path]) -> list[Path]:
    """The inventory files of ``--domains`` values: a file as given, a directory as every
    ``*.yaml`` file directly in it, in name order."""
    out: list[Path] = []
    for path in given:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.yaml") if p.is_file())
            if not found:
                raise InventoryError(f"{path}:0: directory: no *.yaml inventory in it")
            out.extend(found)
        else:
            out.append(path)
    return out


def load_inventories(given: Sequence[Path], *, limit: int | None = MAX_DOMAINS) -> list[Inventory]:
    """Every inventory of ``given`` (files and directories), read and checked to belong in
    one run: each domain in one inventory only, each tenant named once (each keeps its own
    DNS settings: its domains are asked through its own resolvers). At most ``limit``
    domains in all (None: a shard's run, which counts its own part instead). Raises
    InventoryError (one line)."""
    files = inventory_files(given)
    seen_files: dict[Path, Path] = {}
    inventories: list[Inventory] = []
    for path in files:
        real = path.resolve()
        if real in seen_files:
            raise InventoryError(f"{path}:0: file: given twice (also as {seen_files[real]})")
        seen_files[real] = path
        inventories.append(load_inventory(path))
    owner: dict[str, Inventory] = {}
    tenants: dict[str, Inventory] = {}
    for inv in inventories:
        label = tenant_name(inv)
        if label in tenants:
            raise InventoryError(
                f"{inv.path}:0: tenant: {label!r} is also the tenant of {tenants[label].path}; "
                "one inventory per tenant (merge them, or set a distinct 'tenant:')"
            )
        tenants[label] = inv
        for d in inv.domains:
            other = owner.get(d.name)
            if other is not None:
                raise InventoryError(
                    f"{inv.path}:{d.line}: domain: {d.display} is also in {other.path}; "
                    "a domain belongs to one tenant's inventory"
                )
            owner[d.name] = inv
    if limit is not None and len(owner) > limit:
        raise InventoryError(
            f"{files[-1]}:0: domains: {len(owner):,} domains in all, above the limit of "
            f"{limit:,} for one run; {SPLIT_HINT}"
        )
    return inventories


def dns_key(inventory: Inventory) -> tuple[object, ...]:
    """What makes two inventories' DNS settings the same: they then share one resolver
    (and its answers) in a run."""
    dns = inventory.dns
    zones = dns.zones.resolve() if dns.zones is not None else None
    return (dns.nameservers, zones, dns.timeout, dns.attempts)


def combined(inventories: Sequence[Inventory], path: Path) -> Inventory:
    """One inventory standing for all of ``inventories`` in a run of many: every domain and
    waiver (a domain is in one of them only), the first one's DNS settings, and a digest of
    all their digests. Policy, tenant and DNS settings stay each inventory's own (the run
    judges each domain with its own inventory's, and asks its own resolvers)."""
    first = inventories[0]
    digest = hashlib.sha256(
        "\n".join(f"{inv.path}\0{inv.sha256}" for inv in inventories).encode()
    ).hexdigest()
    return Inventory(
        path=path,
        sha256=digest,
        tenant=None,
        sources=tuple(s for inv in inventories for s in inv.sources),
        dns=first.dns,
        policy=first.policy,
        domains=tuple(d for inv in inventories for d in inv.domains),
        waivers=tuple(w for inv in inventories for w in inv.waivers),
    )
