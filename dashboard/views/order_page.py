"""What the order page and its partials (payment panel, timeline) show: built here for the
orders blueprint (the page) and the payments blueprint (the panel re-rendered in place)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import current_app, request, url_for

from dashboard.domain.money import format_plain
from dashboard.domain.state_machine import ALLOWED_ACTIONS, StaffAction
from dashboard.extensions import db
from dashboard.models import Order, utcnow
from dashboard.payments.gateway import is_sandbox
from dashboard.services import card_requests, orders, timeline
from dashboard.services.pay_links import pay_links
from dashboard.services.payments import holds, ledger, renewal
from dashboard.views.forms import (
    BadListQuery,
    CaptureForm,
    PaymentMethodForm,
    RefundForm,
    VoidForm,
)
from dashboard.views.hold_forms import (
    IncrementForm,
    OrderCardRequestsForm,
    PartialCaptureForm,
    ReleaseForm,
)
from dashboard.views.payment_facts import payment_facts
from dashboard.views.timeline_headlines import timeline_lines


def order_or_404(order_id: int) -> Order:
    """The order with its lines, or the 404 page that says there is none."""
    return db.get_or_404(
        Order,
        order_id,
        description=f"There is no order #{order_id}.",
        options=[orders.WITH_LINES],
    )


class TimelineSort(StrEnum):
    """Which way round the timeline reads: the `sort` query parameter of its links."""

    OLDEST_FIRST = "oldest-first"
    NEWEST_FIRST = "newest-first"


def timeline_sort_arg() -> TimelineSort:
    """The timeline's `sort` from the query string; BadListQuery for one it does not take."""
    raw = request.args.get("sort", "")
    if not raw:
        return TimelineSort.OLDEST_FIRST
    try:
        return TimelineSort(raw)
    except ValueError:
        raise BadListQuery(
            f"The timeline reads oldest-first or newest-first, not {raw[:40]!r}; "
            "here it is oldest first."
        ) from None


def remembered_sort() -> TimelineSort:
    """For an htmx action's answer: the way round the page that sent it reads its timeline
    (its address's `sort`), so the re-drawn timeline keeps it."""
    query = urlsplit(request.headers.get("HX-Current-URL", "")).query
    try:
        return TimelineSort(parse_qs(query).get("sort", [""])[0])
    except ValueError:
        return TimelineSort.OLDEST_FIRST


def timeline_context(
    order: Order,
    *,
    before: int | None = None,
    sort: TimelineSort = TimelineSort.OLDEST_FIRST,
) -> dict[str, Any]:
    """The timeline's entries as lines (headline, then details), and how to read on."""
    newest_first = sort is TimelineSort.NEWEST_FIRST
    found = timeline.window(order.id, before=before, newest_first=newest_first)
    return {
        "lines": timeline_lines(found.entries, order.currency),
        "earlier": found.earlier,
        "newest_first": newest_first,
        # Links keep the order only when it is not the default, so default links stay short.
        "sort": sort.value if newest_first else None,
    }


def detail_context(
    order: Order, *, sort: TimelineSort | None = None, **forms: Any
) -> dict[str, Any]:
    """Everything the order page and its partials show; `forms` replaces an action's empty
    form with the one as posted (a refused amount stays as typed, with its error)."""
    pay_url = current_app.config["PUBLIC_BASE_URL"] + url_for(
        "pay.show", token=pay_links().token_for(order.id)
    )
    state = order.order_state
    can = {action: state in allowed for action, allowed in ALLOWED_ACTIONS.items()}
    return {
        "order": order,
        "pay_url": pay_url,
        "pay_link_days": current_app.config["PAY_LINK_MAX_AGE"] // 86400,
        **timeline_context(order, sort=sort or remembered_sort()),
        "in_flight": ledger.in_flight(order),
        "can_capture": can[StaffAction.CAPTURE],
        "can_void": can[StaffAction.VOID],
        "can_refund": can[StaffAction.REFUND],
        "capture_form": CaptureForm(
            formdata=None, amount=format_plain(order.amount_capturable, order.currency)
        ),
        "void_form": VoidForm(formdata=None),
        "refund_form": RefundForm(formdata=None),
        **forms,
        "method_form": PaymentMethodForm(
            formdata=None,
            method=order.payment_method or current_app.config["DEFAULT_PAYMENT_METHOD"],
        ),
        "can_choose_method": orders.can_choose_payment_method(order),
        **_hold_context(order, can, forms),
        "can_reauthorize": renewal.offered(order, StaffAction.REAUTHORIZE),
        "can_send_pay_link": renewal.offered(order, StaffAction.NEW_PAY_LINK),
        "renewal_amount": renewal.remaining(order),
        "now": utcnow(),
        **payment_facts(order, sandbox=is_sandbox(current_app.config)),
    }


def _hold_context(
    order: Order, can: dict[StaffAction, bool], forms: dict[str, Any]
) -> dict[str, Any]:
    """What the card granted, and the actions beyond one capture offered only when it did."""
    granted = holds.grants(order)
    attempts_left = holds.MAX_INCREMENT_ATTEMPTS - holds.increment_attempts(order)
    captures = holds.captures_made(order)
    return {
        "grants": granted,
        "feature_words": holds.FEATURE_WORDS,
        "captures_made": captures,
        "captures_left": holds.MAX_CAPTURES - captures,
        "capture_ceiling": holds.capture_ceiling(order),
        "increment_attempts_left": attempts_left,
        "can_partial_capture": can[StaffAction.PARTIAL_CAPTURE]
        and granted.multicapture_granted
        and captures + 1 < holds.MAX_CAPTURES,
        "can_release": can[StaffAction.RELEASE],
        "can_increment": can[StaffAction.INCREMENT]
        and granted.increment_granted
        and order.amount_captured == 0
        and attempts_left > 0,
        "partial_capture_form": forms.get("partial_capture_form")
        or PartialCaptureForm(formdata=None),
        "release_form": forms.get("release_form") or ReleaseForm(formdata=None),
        "increment_form": forms.get("increment_form") or IncrementForm(formdata=None),
        "card_requests_form": forms.get("card_requests_form")
        or OrderCardRequestsForm(formdata=None, data=order.card_requests or {}),
        "card_requests_chosen": card_requests.for_order(order),
        "card_request_names": card_requests.FLAGS,
    }
