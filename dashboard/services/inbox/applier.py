"""Applying the webhook deliveries the endpoint stored, in pages, right after their answer.

The endpoint answers 2xx once a delivery is durably stored (`store.keep_page`: verified,
deduplicated, committed), as Stripe asks: quickly, before any complex logic. The event is
then `pending`, and the applier applies it:
- `drain` claims the oldest pending events a page at a time (`SELECT … FOR UPDATE SKIP
  LOCKED` on PostgreSQL, so appliers in several workers or hosts take different events;
  the claim is a conditional `UPDATE … WHERE status = 'pending'`, so an event is applied
  once whoever else claims it: a redelivery, the sync, Reprocess), locks the orders they
  lead to in one query, applies them in id order and commits the page. If anything in the
  page raises, it is applied again one event at a time, a failing event kept as `failed`
  with its error (retried by a redelivery, Reprocess or `flask stripe reprocess`).
  Events whose handler re-reads Stripe are applied after their page, each in a
  transaction of its own, so no order stays locked while Stripe answers.
- `BackgroundApplier` runs `drain` in a thread of each web worker, woken by every page of
  deliveries it commits and every `POLL_SECONDS` (to take what a worker that died left),
  and drains once more when the worker stops. `flask stripe apply` runs `drain` from
  cron or by hand, and `flask stripe apply --follow` runs `follow`, a process of its own
  that applies as deliveries arrive, for deployments that turn the thread off
  (`WEBHOOK_APPLY_IN_BACKGROUND=0`): the workers' threads then answer Stripe without
  sharing a Python interpreter with the applying (docs/webhooks.md, "Where applying runs").
A page that cannot be committed keeps nothing: its events stay pending, claimed by no
one, and the next pass takes them.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select, update

from dashboard.extensions import db
from dashboard.models import EventStatus, StripeEvent
from dashboard.services import customers, planner_statistics, timeline
from dashboard.services.inbox import reconcile, store
from dashboard.services.inbox.handlers.registry import rereads_stripe
from dashboard.services.inbox.matching import OrderLookup, PageOrders
from dashboard.transactions import unit_of_work

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
# After a pass that failed, the next waits at least this long: a database that went away
# is not asked again many times a second, each failure logged.
FAILED_PASS_PAUSE = 1.0
# `follow`'s wait after a page that was not full: how late a delivery may be applied when
# few arrive, and how many arrive together to make a page when many do.
FOLLOW_INTERVAL = 0.2
PENDING = EventStatus.PENDING.value


@dataclass(frozen=True)
class Drained:
    applied: int  # events claimed and applied (or kept as failed)
    passes: int  # pages committed


def apply_page(limit: int) -> tuple[int, list[int]]:
    """Claim up to `limit` pending events, oldest first, and apply those whose handler
    needs no call to Stripe as one page, in the caller's transaction. Returns how many
    were taken and the ids of those left for `store.process` (they re-read Stripe)."""
    query = (
        select(StripeEvent.id, StripeEvent.type)
        .where(StripeEvent.status == PENDING)
        .order_by(StripeEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer anyway
    )
    found = db.session.execute(query).all()
    rereading = [int(row_id) for row_id, kind in found if rereads_stripe(kind)]
    ids = [int(row_id) for row_id, kind in found if not rereads_stripe(kind)]
    if not ids:
        return len(found), rereading
    rows = sorted(
        db.session.scalars(
            update(StripeEvent)
            .where(StripeEvent.id.in_(ids), StripeEvent.status == PENDING)
            .values(process_count=StripeEvent.process_count + 1)
            .returning(StripeEvent)
            .execution_options(populate_existing=True, synchronize_session=False)
        ),
        key=lambda row: row.id,
    )
    try:
        with db.session.begin_nested(), customers.page_of_buyers(), timeline.page_of_entries():
            page = PageOrders()
            page.lock([row.data_object for row in rows])
            for row in rows:
                reconcile.apply_in_page(row, page)
    except Exception as error:  # the page's events are then applied one at a time
        log.info("webhook applier: a page fell back to one event at a time (%s)", error)
        for row in rows:
            reconcile.apply(row, OrderLookup())
    return len(found), rereading


def apply_pass(page_size: int) -> int:
    """One page, committed: up to `page_size` pending events claimed and applied (those
    that re-read Stripe each in a transaction of its own after it). How many were taken."""
    with unit_of_work():
        taken, rereading = apply_page(page_size)
    for row_id in rereading:
        with unit_of_work():
            store.process(row_id)
    with unit_of_work():  # a burst into a young database grows its tables
        planner_statistics.refresh()
    return taken


def drain(page_size: int) -> Drained:
    """Apply every pending event, a committed page at a time, until a page comes back
    short (what another applier holds is its to apply)."""
    applied = passes = 0
    while True:
        taken = apply_pass(page_size)
        passes += 1
        applied += taken
        if taken < page_size:
            return Drained(applied, passes)


def follow(page_size: int, stop: threading.Event, interval: float) -> Drained:
    """Apply deliveries as they are stored, until `stop` is set (`flask stripe apply
    --follow`, a process of its own beside the web workers): a full page is followed by the
    next at once, a short one by a wait of `interval` seconds, in which the deliveries
    arriving make the next page. A pass that fails (a database gone away) is logged and its
    events stay pending, for the next pass. Ends after the page under way."""
    applied = passes = 0
    while not stop.is_set():
        taken: int | None = None
        try:
            taken = apply_pass(page_size)
        except Exception:
            log.exception("webhook applier: a pass failed; its events stay pending")
        finally:
            db.session.remove()  # a process that runs for weeks keeps no page's objects
        if taken is None:
            stop.wait(max(interval, FAILED_PASS_PAUSE))
            continue
        passes += 1
        applied += taken
        if taken < page_size:
            stop.wait(interval)
    return Drained(applied, passes)


class BackgroundApplier:
    """`drain` in a thread of this process, started by the first delivery it stores."""

    def __init__(self, app: Flask, *, page_size: int, poll_seconds: float = POLL_SECONDS):
        self.app = app
        self.page_size = page_size
        self.poll_seconds = poll_seconds
        self._due = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stopping = False

    def wake(self) -> None:
        """Something was stored: apply it now (starting the thread in this process)."""
        with self._lock:
            alive = self._thread is not None and self._thread.is_alive()
            if not self._stopping and not (alive and self._pid == os.getpid()):
                # A forked worker inherits no thread: each process starts its own.
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="webhook-applier", daemon=True
                )
                self._thread.start()
                _RUNNING.add(self)
        self._due.set()

    def stop(self, timeout: float = 8.0) -> None:
        """Drain once more, then end the thread (a worker stopping)."""
        with self._lock:
            self._stopping = True
            thread = self._thread if self._pid == os.getpid() else None
        self._due.set()
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._due.wait(self.poll_seconds)
            self._due.clear()
            stopping = self._stopping
            with self.app.app_context():
                try:
                    drain(self.page_size)
                except Exception:  # a lost connection, a failed commit: the next pass retries
                    log.exception("webhook applier: a pass failed; its events stay pending")
                    if not stopping:
                        self._due.wait(self.poll_seconds)
                finally:
                    db.session.remove()
            if stopping:
                return


_RUNNING: set[BackgroundApplier] = set()


def stop_all() -> None:
    """Drain and stop this process's appliers (gunicorn's `worker_exit`, and at exit)."""
    for applier in list(_RUNNING):
        applier.stop()
    _RUNNING.clear()


atexit.register(stop_all)
