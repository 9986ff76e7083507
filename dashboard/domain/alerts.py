"""The emails staff can ask for, and who gets each one until they choose otherwise."""

from __future__ import annotations

from enum import StrEnum


class AlertKind(StrEnum):
    HOLD_EXPIRING = "hold_expiring"  # an uncaptured hold is inside the alert window
    HOLD_LAPSED = "hold_lapsed"  # its capture deadline has passed uncaptured
    DISPUTE_OPENED = "dispute_opened"
    EVENT_FAILING = "event_failing"  # a Stripe event failed to apply, again and again
    RENEWAL_FAILED = "renewal_failed"  # a subscription's renewal payment failed

    @property
    def label(self) -> str:
        return LABELS[self]


LABELS = {
    AlertKind.HOLD_EXPIRING: "A hold is about to run out (its capture deadline is near)",
    AlertKind.HOLD_LAPSED: "A hold ran out before it was captured",
    AlertKind.DISPUTE_OPENED: "A buyer disputes a payment",
    AlertKind.EVENT_FAILING: "A message from Stripe keeps failing to apply",
    AlertKind.RENEWAL_FAILED: "A subscription's renewal payment failed",
}

# Until a person chooses, each role gets the alerts it can act on: staff capture and
# re-authorize holds, everyone answers disputes, admins look after the Stripe connection.
DEFAULTS: dict[str, frozenset[AlertKind]] = {
    "admin": frozenset(AlertKind),
    "staff": frozenset(
        {
            AlertKind.HOLD_EXPIRING,
            AlertKind.HOLD_LAPSED,
            AlertKind.DISPUTE_OPENED,
            AlertKind.RENEWAL_FAILED,
        }
    ),
    "support": frozenset({AlertKind.DISPUTE_OPENED}),
}


def wanted(role: str, choices: dict[AlertKind, bool]) -> frozenset[AlertKind]:
    """The alerts a person gets: their own choices, and their role's defaults elsewhere."""
    defaults = DEFAULTS.get(role, frozenset())
    return frozenset(kind for kind in AlertKind if choices.get(kind, kind in defaults))
