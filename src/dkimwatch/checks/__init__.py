"""The checks: functions of (inventory entry, DNS answers) → verdict, one module per family.

``verdict`` holds what they share (Verdict, Probe, Context, the Builder); ``dkim``,
``spf`` and ``dmarc`` the checks; ``spf_walk`` and ``dmarc_discovery`` the SPF include walk
and DMARC policy discovery. The registry (dkimwatch.registry) declares each check once.
"""

from dkimwatch.checks.dkim import (
    check_dkim_cname,
    check_dkim_key,
    check_dkim_rotation,
    check_dkim_target,
)
from dkimwatch.checks.dmarc import check_dmarc
from dkimwatch.checks.spf import check_spf
from dkimwatch.checks.verdict import Context, Outcome, Probe, Result, Verdict, selector_name

__all__ = [
    "Context",
    "Outcome",
    "Probe",
    "Result",
    "Verdict",
    "check_dkim_cname",
    "check_dkim_key",
    "check_dkim_rotation",
    "check_dkim_target",
    "check_dmarc",
    "check_spf",
    "selector_name",
]
