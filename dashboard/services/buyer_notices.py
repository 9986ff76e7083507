"""What the buyer must be told when the shop needs them again: a new hold to confirm on a
fresh pay link (their bank asked them to verify it, or staff sent a new link).

`ask_buyer_to_pay_again` is the one place that email is written: to the outbox, in the
transaction that decided it (`flask outbox relay` sends it), once per `dedupe_key`, with a
line on the order's timeline saying so.
"""

from __future__ import annotations

from enum import StrEnum

from dashboard.models import Order, TimelineKind, User
from dashboard.services import mail, timeline
from dashboard.services.pay_links import pay_url


class PayAgainReason(StrEnum):
    VERIFY = "verify"  # the bank wants the buyer to authenticate a re-authorization
    NEW_LINK = "new_link"  # staff sent a new pay link (no saved card, or a declined one)


_SUBJECTS = {
    PayAgainReason.VERIFY: "please verify a new hold with your bank",
    PayAgainReason.NEW_LINK: "a new pay link for your order",
}


_WHY = {
    PayAgainReason.VERIFY: (
        "The hold on your card for this order ran out, or was about to, so the shop asked "
        "your bank for a new one with the card you let it keep. Your bank wants you to "
        "confirm it yourself."
    ),
    PayAgainReason.NEW_LINK: "The shop asks you to confirm a new hold on your card for this order.",
}


def ask_buyer_to_pay_again(
    order: Order, amount: int, reason: PayAgainReason, actor: User | None, *, dedupe_key: str
) -> str:
    """Tell the buyer to confirm a new hold of `amount` on a fresh pay link; returns the
    link (staff see it too, to pass on by hand if the email does not reach the buyer).
    `dedupe_key` names the ask: the same one retried sends one email."""
    link = pay_url(order.id)
    mail.queue_email(
        order.buyer_email,
        f"Order #{order.id}: {_SUBJECTS[reason]}",
        f"Hello {order.buyer_name},\n\n{_WHY[reason]}\n\n"
        f"Amount: {order.money(amount)}. This is a hold, not yet a charge: the shop takes "
        "the money only when it sends your order.\n\n"
        f"Confirm it here:\n{link}\n\n"
        "Nothing you paid before is charged again.\n",
        kind=f"pay_again_{reason.value}",
        dedupe_key=f"{order.id}:{dedupe_key}",
        order=order,
    )
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
