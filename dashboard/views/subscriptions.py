"""Subscriptions, for staff: plans (define one, withdraw it, a buyer's subscribe link), the
subscription list and page, canceling (said, then confirmed) and the portal link."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from dashboard.domain.subscriptions import (
    INVOICE_WORDS,
    STATUS_WORDS,
    PlanInvalid,
    SubscriptionStatus,
    cadence,
)
from dashboard.models import Subscription
from dashboard.payments.errors import PaymentError
from dashboard.services.pagination import Page
from dashboard.services.payments.results import ActionRefused
from dashboard.services.subscriptions import buyer, pages, plans, staff
from dashboard.views.access import READERS, STAFF, roles_required
from dashboard.views.forms import BadListQuery, EmptyForm, cursor_arg
from dashboard.views.subscription_forms import PlanForm, SubscribeLinkForm

bp = Blueprint("subscriptions", __name__)

WORDS = {"status_words": STATUS_WORDS, "invoice_words": INVOICE_WORDS, "cadence": cadence}


@bp.app_context_processor
def subscription_words() -> dict[str, object]:
    """The words of subscriptions and invoices, for every page that shows one (the
    customer's page includes the same summary)."""
    return WORDS


@bp.route("/plans", methods=["GET"])
@roles_required(*READERS)
def plan_list() -> ResponseReturnValue:
    """The plans, and for staff the form to define one."""
    return render_template("pages/subscriptions/plans.html", plans=plans.listed(), form=PlanForm())


@bp.route("/plans", methods=["POST"])
@roles_required(*STAFF)
def plan_create() -> ResponseReturnValue:
    """Define a plan: made in Stripe (a product and its recurring price), then kept."""
    form = PlanForm()
    problem = None
    if form.validate_on_submit():
        try:
            draft = plans.draft(
                form.name.data or "",
                form.price.data or "",
                form.currency.data or "",
                form.interval.data or "",
                form.interval_count.data or "",
            )
            plan = plans.create(draft, current_user)
        except (PlanInvalid, PaymentError) as error:
            problem = str(error.message if isinstance(error, PaymentError) else error)
        else:
            flash(f"Plan “{plan.name}” is on sale.", "success")
            return redirect(url_for("subscriptions.plan_detail", plan_id=plan.id), code=303)
    return (
        render_template(
            "pages/subscriptions/plans.html",
            plans=plans.listed(),
            form=form,
            problem=problem,
        ),
        422,
    )


def _plan_page(plan_id: int, status: int = 200, **extra: object) -> ResponseReturnValue:
    try:
        plan = plans.get(plan_id)
    except plans.PlanNotFound:
        abort(404)
    context = {"plan": plan, "link_form": SubscribeLinkForm(), "action_form": EmptyForm()}
    return render_template("pages/subscriptions/plan.html", **{**context, **extra}), status


@bp.route("/plans/<int:plan_id>")
@roles_required(*READERS)
def plan_detail(plan_id: int) -> ResponseReturnValue:
    """One plan, and for staff its subscribe links."""
    return _plan_page(plan_id)


@bp.route("/plans/<int:plan_id>/subscribe-link", methods=["POST"])
@roles_required(*STAFF)
def subscribe_link(plan_id: int) -> ResponseReturnValue:
    """A buyer's subscribe link for the plan, shown to pass on."""
    form = SubscribeLinkForm()
    if not form.validate_on_submit():
        return _plan_page(plan_id, 422, link_form=form)
    try:
        link = buyer.link_for(plan_id, form.email.data or "", form.name.data or "")
    except plans.PlanNotFound:
        abort(404)
    except ActionRefused as refused:
        return _plan_page(plan_id, 409, problem=refused.message)
    return _plan_page(plan_id, link=link, link_form=form)


@bp.route("/plans/<int:plan_id>/withdraw", methods=["POST"])
@roles_required(*STAFF)
def plan_withdraw(plan_id: int) -> ResponseReturnValue:
    """Stop selling the plan: no new subscriptions; those running go on."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        plans.withdraw(plan_id)
    except plans.PlanNotFound:
        abort(404)
    except PaymentError as error:
        return _plan_page(plan_id, 502, problem=error.message)
    flash("The plan is withdrawn: nobody can subscribe to it any more.", "success")
    return redirect(url_for("subscriptions.plan_detail", plan_id=plan_id), code=303)


@bp.route("/subscriptions")
@roles_required(*READERS)
def index() -> ResponseReturnValue:
    """Subscriptions newest first; by status, or those whose renewal failed."""
    status = request.args.get("status", "") or None
    if status not in (None, "renewal_failed", *[s.value for s in SubscriptionStatus]):
        status = None
    try:
        page = pages.listing(
            status=status,
            older_than=cursor_arg("older_than"),
            newer_than=cursor_arg("newer_than"),
        )
    except BadListQuery as problem:
        # The list page itself, with the reason and nothing listed.
        empty: Page[Subscription] = Page(rows=[], newer_than=None, older_than=None)
        return render_template(
            "pages/subscriptions/index.html",
            page=empty,
            plans_by_id={},
            status=status,
            statuses=list(SubscriptionStatus),
            problem=str(problem),
        ), 400
    return render_template(
        "pages/subscriptions/index.html",
        page=page,
        plans_by_id=pages.plans_by_id(page.rows),
        status=status,
        statuses=list(SubscriptionStatus),
    )


def _detail(subscription_id: int, status: int = 200, **extra: object) -> ResponseReturnValue:
    try:
        view = pages.detail(subscription_id)
    except staff.SubscriptionNotFound:
        abort(404)
    return render_template(
        "pages/subscriptions/detail.html", view=view, action_form=EmptyForm(), **extra
    ), status


@bp.route("/subscriptions/<int:subscription_id>")
@roles_required(*READERS)
def detail(subscription_id: int) -> ResponseReturnValue:
    """One subscription: status, period, next invoice, invoices and timeline."""
    return _detail(subscription_id)


@bp.route("/subscriptions/<int:subscription_id>/cancel")
@roles_required(*STAFF)
def cancel(subscription_id: int) -> ResponseReturnValue:
    """What canceling will do, and the button that does it."""
    when = request.args.get("when", "")
    if when not in staff.WHEN:  # a link that does not say which cancel: nothing to review
        return _detail(subscription_id, 400, problem=staff.CHOOSE_WHEN)
    try:
        review = staff.review_cancel(subscription_id, when)
    except staff.SubscriptionNotFound:
        abort(404)
    except ActionRefused as refused:
        return _detail(subscription_id, 409, problem=refused.message)
    return render_template(
        "pages/subscriptions/cancel.html",
        subscription_id=subscription_id,
        review=review,
        form=EmptyForm(),
    )


@bp.route("/subscriptions/<int:subscription_id>/cancel/confirm", methods=["POST"])
@roles_required(*STAFF)
def cancel_confirmed(subscription_id: int) -> ResponseReturnValue:
    """Send the cancel to Stripe (its idempotency key saved first)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    when = request.form.get("when", "")
    if when not in staff.WHEN:
        return _detail(subscription_id, 400, problem=staff.CHOOSE_WHEN)
    try:
        result = staff.cancel(subscription_id, when, current_user)
    except staff.SubscriptionNotFound:
        abort(404)
    except ActionRefused as refused:
        return _detail(subscription_id, 409, problem=refused.message)
    flash(result.message, "success" if result.ok else "error")
    return redirect(url_for("subscriptions.detail", subscription_id=subscription_id), code=303)


@bp.route("/subscriptions/<int:subscription_id>/portal-link", methods=["POST"])
@roles_required(*STAFF)
def portal_link(subscription_id: int) -> ResponseReturnValue:
    """Email the buyer a link to Stripe's customer portal (and show it)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        link = staff.send_portal_link(subscription_id, current_user)
    except staff.SubscriptionNotFound:
        abort(404)
    except ActionRefused as refused:
        return _detail(subscription_id, 409, problem=refused.message)
    return _detail(subscription_id, portal_link=link)
