"""What the buyer must be told when the shop needs them again: a new hold to confirm on a
fresh pay link (their bank asked them to verify it, or staff sent a new link).

`ask_buyer_to_pay_again` is the one call site for that email. It records on the order's
timeline that the buyer is to be told, with the link; the email itself is written to the
outbox by the emails part of issue 14 (section 5) once merged, from here and nowhere else.
"""

from __future__ import annotations

from enum import StrEnum

from dashboard.models import Order, TimelineKind, User
from dashboard.services import timeline
from dashboard.services.pay_links import pay_url


class PayAgainReason(StrEnum):
    VERIFY = "verify"  # the bank wants the buyer to authenticate a re-authorization
    NEW_LINK = "new_link"  # staff sent a new pay link (no saved card, or a declined one)


_SUBJECTS = {
    PayAgainReason.VERIFY: "please verify a new hold with your bank",
    PayAgainReason.NEW_LINK: "a new pay link for your order",
}


def ask_buyer_to_pay_again(
    order: Order, amount: int, reason: PayAgainReason, actor: User | None
) -> str:
    """Tell the buyer to confirm a new hold of `amount` on a fresh pay link; returns the
    link (staff see it too, to pass on by hand meanwhile)."""
    link = pay_url(order.id)
    timeline.append(
        order,
        TimelineKind.OUTBOX,
        f"Buyer {order.buyer_email} to be sent {_SUBJECTS[reason]}: "
        f"confirm a new hold of {order.money(amount)}",
        actor=actor,
        data={
            "notice": "pay_again",
            "reason": reason.value,
            "amount": amount,
            "to": order.buyer_email,
        },
    )
    return link
