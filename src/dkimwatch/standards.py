"""Values fixed outside dkimwatch, by RFCs and by Microsoft, in one place.

A leaf: it imports nothing of dkimwatch, so every module may import it.
"""

from __future__ import annotations

# DMARC policies from the weakest to the strongest (RFC 7489 §6.3).
POLICIES = ("none", "quarantine", "reject")

# RFC 7208 §4.6.4: more than 10 DNS-querying terms (include, a, mx, ptr, exists, redirect)
# while evaluating one SPF record is a permerror.
SPF_LOOKUP_LIMIT = 10

# Microsoft recommends a TTL of at least an hour for the selector CNAMEs; dkimwatch checks
# for it and writes it in every record it suggests (docs/exchange-online.md).
RECOMMENDED_TTL = 3600
