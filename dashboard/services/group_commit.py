"""Group commit for webhook deliveries: the deliveries that reach one worker process at the
same moment are received as one page, in one transaction, and all answered after its commit.

Each request thread verifies its delivery, then joins the queue. If no thread is leading,
it leads: it takes what is queued (itself included, up to `limit`), receives it with
`stripe_events.receive_page` (which falls back to one event at a time if anything in the
page raises), commits, hands the lead to the first thread still queued, and wakes the
threads it served. A delivery is answered only after the commit that holds it, exactly as
before; what is shared is the transaction, the order reads and the writes. Under light load
every page holds one delivery, so nothing waits for company. Events whose handling asks
Stripe first (`stripe_events.ASKS_STRIPE`) are not grouped: a slow answer from Stripe holds
up only its own delivery.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from dashboard.extensions import db
from dashboard.services import stripe_events
from dashboard.services.stripe_events import Receipt


class PageNotCommitted(RuntimeError):
    """The page holding this delivery failed; nothing of it was kept (the cause is chained,
    and logged once, by the thread that led the page)."""


@dataclass
class _Delivery:
    event: dict[str, Any]
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    receipt: Receipt | None = None
    error: BaseException | None = None


class GroupCommit:
    def __init__(self, *, limit: int) -> None:
        if limit < 1:
            raise ValueError("A page holds at least one delivery.")
        self.limit = limit
        self._lock = threading.Lock()
        self._queue: list[_Delivery] = []
        self._leading = False

    def receive(self, event: dict[str, Any]) -> Receipt:
        """The delivery's receipt once the page holding it is committed (this thread's app
        context does the work when it leads). An event whose handling asks Stripe first is
        received on its own, in its own transaction, beside the pages."""
        if event.get("type") in stripe_events.ASKS_STRIPE:
            return stripe_events.receive(event, source="webhook")
        me = _Delivery(event)
        with self._lock:
            self._queue.append(me)
            if not self._leading:
                self._leading = me.lead = True
        if not me.lead:
            me.wake.wait()
        led = me.lead
        if led:
            self._lead()
        if me.error is not None:
            if led:
                raise me.error
            raise PageNotCommitted(f"{type(me.error).__name__}: {me.error}") from me.error
        assert me.receipt is not None
        return me.receipt

    def _lead(self) -> None:
        with self._lock:
            page = self._queue[: self.limit]
            del self._queue[: self.limit]
        try:
            receipts = stripe_events.receive_page([d.event for d in page], source="webhook")
            db.session.commit()
        except BaseException as error:
            db.session.rollback()
            for delivery in page:
                delivery.error = error
        else:
            for delivery, receipt in zip(page, receipts, strict=True):
                delivery.receipt = receipt
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].wake.set()
                else:
                    self._leading = False
            for delivery in page:
                delivery.lead = False
                delivery.wake.set()
