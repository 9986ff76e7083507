"""Plans staff sell on a schedule: checked against Stripe's limits before anything is sent,
then made in Stripe (a product and its recurring price) and kept with their ids. A plan
can be withdrawn: no new subscriptions to it; those running go on."""

from __future__ import annotations

import uuid

from flask import current_app
from sqlalchemy import select

from dashboard.domain.money import MoneyError, parse_major
from dashboard.domain.subscriptions import PlanDraft, PlanInvalid, check_plan
from dashboard.extensions import db
from dashboard.models import Plan, User
from dashboard.payments.gateway import gateway
from dashboard.payments.subscription_calls import PlanIds


def draft(name: str, price: str, currency: str, interval: str, interval_count: str) -> PlanDraft:
    """What staff typed, as a plan Stripe will take; PlanInvalid says what is wrong."""
    try:
        amount = parse_major(price, currency)
    except MoneyError as error:
        raise PlanInvalid(str(error)) from error
    try:
        count = int(interval_count.strip())
    except ValueError:
        raise PlanInvalid("Bill every whole number of months or years.") from None
    return check_plan(name, amount, currency, interval, count)


def create(plan: PlanDraft, actor: User) -> Plan:
    """Made in Stripe first; the row is kept only with the ids Stripe gave. A Stripe
    refusal raises (payments.errors.PaymentError) and nothing is kept."""
    key = f"plan-{uuid.uuid4().hex}"
    ids = gateway().create_plan(
        name=plan.name,
        amount=plan.amount,
        currency=plan.currency,
        interval=plan.interval.value,
        interval_count=plan.interval_count,
        idempotency_key=key,
    )
    row = Plan(
        name=plan.name,
        amount=plan.amount,
        currency=plan.currency,
        interval=plan.interval.value,
        interval_count=plan.interval_count,
        active=True,
        stripe_product_id=ids.product_id,
        stripe_price_id=ids.price_id,
        created_by_id=actor.id,
    )
    db.session.add(row)
    db.session.flush()
    current_app.logger.info("plan %s made in Stripe", row.id, extra={"plan_id": row.id})
    return row


def withdraw(plan_id: int) -> Plan:
    """No new subscriptions to the plan (its price deactivated in Stripe too)."""
    plan = get(plan_id)
    if plan.active:
        gateway().deactivate_plan(PlanIds(plan.stripe_product_id, plan.stripe_price_id))
        plan.active = False
        db.session.flush()
    return plan


class PlanNotFound(LookupError):
    pass


def get(plan_id: int) -> Plan:
    plan = db.session.get(Plan, plan_id)
    if plan is None:
        raise PlanNotFound(plan_id)
    return plan


def listed() -> list[Plan]:
    """Every plan, those on sale first, newest first."""
    return list(db.session.scalars(select(Plan).order_by(Plan.active.desc(), Plan.id.desc())))
