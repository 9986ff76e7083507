"""Group commit for webhook deliveries: the deliveries that reach one worker process at the
same moment are stored as one page, in one transaction, and all answered after its commit.

Each request thread verifies its delivery, then joins the queue. If no thread is leading,
it leads: it takes what is queued (itself included, up to `limit`), stores it with
`store.keep_page` (applying is `inbox.applier`'s, after the answer), commits it as one
unit of work, hands the lead to the first thread still queued, and wakes the threads it
served. If the page fails as a whole (its inserts or its commit),
its deliveries are received again one at a time, each in a unit of work of its own, so a
failure stays with the delivery that caused it and the others are kept and answered 200.
A delivery is answered only after the commit that holds it; what is shared is the
transaction and the writes. Under light load every page holds one delivery, so nothing
waits for company. Nothing here calls Stripe: events whose handler re-reads it are stored
like the others and applied by the applier.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from dashboard.services.inbox import store
from dashboard.services.inbox.store import Receipt
from dashboard.transactions import unit_of_work

log = logging.getLogger(__name__)


class PageNotCommitted(RuntimeError):
    """This delivery could not be kept, in its page or on its own; nothing of it was kept
    (the cause is chained)."""


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
        context does the work when it leads)."""
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
            _receive(page)
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


def _receive(page: list[_Delivery]) -> None:
    """Give every delivery of the page its receipt, or the error that kept it out."""
    try:
        with unit_of_work():
            receipts = store.keep_page([d.event for d in page])
    except Exception as error:
        if len(page) == 1:
            page[0].error = error
            return
        log.warning(
            "group commit: a page of %d deliveries failed (%s: %s); receiving them one at a time",
            len(page),
            type(error).__name__,
            error,
        )
        for delivery in page:
            try:
                with unit_of_work():
                    (delivery.receipt,) = store.keep_page([delivery.event])
            except Exception as own:
                delivery.error = own
    except BaseException as error:  # the worker is stopping: nothing of the page is kept
        for delivery in page:
            delivery.error = error
    else:
        for delivery, receipt in zip(page, receipts, strict=True):
            delivery.receipt = receipt
