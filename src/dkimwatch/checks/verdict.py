"""What every check shares: the Verdict it returns, the Probe it asks DNS through, the
Context of the run, and the Builder that turns findings into a Verdict.

Checks never talk to the network themselves; they ask a Probe, which asks the one
Resolver (cached; offline in xdist workers) and remembers every answer it used, so
each verdict carries its evidence. Checks never raise for DNS trouble: a question DNS
could not answer makes the verdict a temperror.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
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

    def to_json(self, evidence_ids: Mapping[Evidence, str] | None = None) -> dict[str, Any]:
        """As results.json has it; with ``evidence_ids`` (results.json's evidence table),
        each exchange is its id there rather than the exchange itself."""
        evidence: list[Any]
        if evidence_ids is None:
            evidence = [e.to_json() for e in self.evidence]
        else:
            evidence = [evidence_ids[e] for e in self.evidence]
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
            "evidence": evidence,
            "details": self.details,
        }

    def sharing(self, table: dict[Evidence, Evidence]) -> Verdict:
        """This verdict with its exchanges taken from ``table`` (added when new): verdicts
        that used the same answers (an SPF include tree, Microsoft's zones) then hold the
        same Evidence objects, not copies (copies come from pickled batches and xdist)."""
        shared = tuple([table.setdefault(e, e) for e in self.evidence])
        if all(a is b for a, b in zip(shared, self.evidence, strict=True)):
            return self
        return replace(self, evidence=shared)

    @classmethod
    def from_json(
        cls,
        data: Mapping[str, Any],
        *,
        outcome: Outcome | None = None,
        evidence: tuple[Evidence, ...] | None = None,
    ) -> Verdict:
        """The verdict back from to_json() (as the resolving helper process sends it);
        ``outcome`` and ``evidence``, when given, in place of the data's (results.json's
        rows hold the test's outcome and the evidence table's ids)."""
        return cls(
            check=data["check"],
            domain=data["domain"],
            selector=data["selector"],
            result=data["result"],
            outcome=data["outcome"] if outcome is None else outcome,
            message=data["message"],
            warnings=tuple(data["warnings"]),
            fixes=fixes_from_json(data.get("fixes", ())),
            evidence=(
                tuple(Evidence.from_json(e) for e in data["evidence"])
                if evidence is None
                else evidence
            ),
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
