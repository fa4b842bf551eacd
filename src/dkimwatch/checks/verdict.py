"""What every check shares: the Verdict it returns, the Probe it asks DNS through, the
Context of the run, and the Builder that turns findings into a Verdict.

Checks never talk to the network themselves; they ask a Probe, which asks the one
Resolver (cached; offline in xdist workers) and remembers every answer it used, so
each verdict carries its evidence. Checks never raise for DNS trouble: a question DNS
could not answer makes the verdict a temperror.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from dkimwatch import exo
from dkimwatch.fixes import Fix, fixes_from_json, remediation
from dkimwatch.fixes import to_json as fix_to_json
from dkimwatch.model import Domain, Policy
from dkimwatch.resolver import Answer, Evidence, Resolver

Result = Literal["pass", "fail", "permerror", "temperror", "none"]
Outcome = Literal["passed", "failed", "error", "skipped", "xfailed"]


@dataclass(frozen=True)
class Verdict:
    check: str
    domain: str
    selector: str | None
    result: Result
    outcome: Outcome
    message: str
    warnings: tuple[str, ...] = ()
    fixes: tuple[Fix, ...] = ()  # what to change so that it holds (dkimwatch.fixes)
    evidence: tuple[Evidence, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def remediation(self) -> str | None:
        """The fixes as one sentence (results.json's and failures.csv's remediation)."""
        return remediation(self.fixes)

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "selector": self.selector,
            "check": self.check,
            "outcome": self.outcome,
            "result": self.result,
            "message": self.message,
            "warnings": list(self.warnings),
            "remediation": self.remediation,
            "fixes": [fix_to_json(f) for f in self.fixes],
            "evidence": [e.to_json() for e in self.evidence],
            "details": self.details,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        """The verdict back from to_json() (as the resolving helper process sends it)."""
        return cls(
            check=data["check"],
            domain=data["domain"],
            selector=data["selector"],
            result=data["result"],
            outcome=data["outcome"],
            message=data["message"],
            warnings=tuple(data["warnings"]),
            fixes=fixes_from_json(data.get("fixes", ())),
            evidence=tuple(Evidence.from_json(e) for e in data["evidence"]),
            details=data["details"],
        )


class Probe:
    """A check's window on DNS: answers come from the shared resolver and are kept as evidence."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.used: list[Answer] = []

    def ask(self, qname: str, rdtype: str) -> Answer:
        answer = self.resolver.lookup(qname, rdtype)
        if all(a is not answer for a in self.used):
            self.used.append(answer)
        return answer

    def evidence(self) -> tuple[Evidence, ...]:
        out: list[Evidence] = []
        for answer in self.used:
            out.extend(answer.evidence)
        return tuple(out)


@dataclass(frozen=True)
class Context:
    resolver: Resolver
    policy: Policy
    tenant: str | None
    now: datetime


def selector_name(domain: Domain, selector: str) -> str:
    """Where the selector's key is looked up. The tenant's initial domain has no CNAMEs:
    Microsoft signs it with selectors named like its targets, so the key name is the
    target itself (selector1-contoso-onmicrosoft-com._domainkey.contoso.onmicrosoft.com)."""
    if exo.is_initial_domain(domain.name):
        return domain.target_for(selector) or exo.classic_target(
            selector, domain.name, domain.name.split(".")[0]
        )
    return f"{selector}._domainkey.{domain.name}"


class Builder:
    """Collects what a check found and turns it into a Verdict."""

    def __init__(self, check: str, domain: Domain, selector: str | None, probe: Probe):
        self.check = check
        self.domain = domain
        self.selector = selector
        self.probe = probe
        self.warnings: list[str] = []
        self.details: dict[str, Any] = {}
        if check.startswith("dkim"):
            # What Exchange Online itself says (from the export), shown beside our verdict.
            if domain.status is not None:
                self.details["exo_status"] = domain.status
            if domain.enabled is not None:
                self.details["exo_enabled"] = domain.enabled

    def make(
        self, result: Result, outcome: Outcome, message: str, fixes: Iterable[Fix] = ()
    ) -> Verdict:
        self.warnings.extend(a.disagreement for a in self.probe.used if a.disagreement)
        return Verdict(
            check=self.check,
            domain=self.domain.name,
            selector=self.selector,
            result=result,
            outcome=outcome,
            message=message,
            warnings=tuple(dict.fromkeys(self.warnings)),
            fixes=tuple(dict.fromkeys(fixes)),
            evidence=self.probe.evidence(),
            details=self.details,
        )

    def passed(self, message: str) -> Verdict:
        return self.make("pass", "passed", message)

    def failed(self, message: str, fixes: Iterable[Fix] = ()) -> Verdict:
        return self.make("fail", "failed", message, fixes)

    def permerror(self, message: str, fixes: Iterable[Fix] = ()) -> Verdict:
        return self.make("permerror", "failed", message, fixes)

    def temperror(self, message: str) -> Verdict:
        return self.make("temperror", "error", message)


def near_misses(records: tuple[str, ...], prefix: str) -> list[str]:
    """TXT records that look meant as this record kind but are not selected by receivers."""
    return [r for r in records if r[: len(prefix)].lower() == prefix]
