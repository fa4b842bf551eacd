"""Which selector signs now: Exchange Online's rotation rule, and the fallback without it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from dkimwatch.instants import iso_instant
from dkimwatch.model import Domain


@dataclass(frozen=True)
class Role:
    """A selector's role at the evaluation instant."""

    active: bool | None  # None: cannot tell (a needed answer was a temperror)
    reason: str
    # False when ``active`` is only the cautious assumption: no rotation data and no
    # selector has a usable key, so any of them may be the one that signs.
    known: bool = True


def signing_selector(domain: Domain, now: datetime) -> tuple[str, str] | None:
    """(selector, why) from the rotation data, or None when the inventory has none.

    Exchange Online: SelectorAfterRotateOnDate signs when now ≥ RotateOnDate, else
    SelectorBeforeRotateOnDate (a never-rotated config has RotateOnDate = KeyCreationTime).
    """
    rotation = domain.rotation
    if rotation is None:
        return None
    selector = rotation.active_selector(now)
    if now >= rotation.rotate_on:
        why = f"{selector} signs since the rotation on {iso_instant(rotation.rotate_on)}"
    else:
        why = (
            f"{selector} signs until the rotation on {iso_instant(rotation.rotate_on)}, "
            f"then {rotation.after}"
        )
    return selector, why


def role(
    domain: Domain, selector: str, now: datetime, key_published: Mapping[str, bool | None]
) -> Role:
    """Is ``selector`` the one that signs? ``key_published`` maps each selector to whether a
    usable key (a non-empty TXT, not revoked) is published behind it (None when DNS could
    not say). Asked for a selector that has no usable key itself."""
    decided = signing_selector(domain, now)
    if decided is not None:
        active, why = decided
        return Role(active == selector, why)
    others = {s: v for s, v in key_published.items() if s != selector}
    if any(v is True for v in others.values()):
        with_key = next(s for s, v in others.items() if v is True)
        return Role(
            False,
            f"no rotation data: {with_key} has a key, so {selector} is presumed inactive",
        )
    if any(v is None for v in others.values()):
        return Role(
            None, "no rotation data, and DNS could not say whether the other selector has a key"
        )
    # Whichever signs has no key: every selector without one is judged as if it signed.
    return Role(
        True,
        "no rotation data, and no selector has a usable key, so dkimwatch cannot tell which "
        "one signs",
        known=False,
    )
