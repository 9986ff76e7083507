"""Disputes: the list by evidence deadline, a dispute's page with its evidence, documents
uploaded to Stripe, the draft saved and the evidence submitted once, after a confirmation.
Everyone signed in reads them; staff and admins answer them."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from dashboard.domain.dispute_evidence import FIELDS, MAX_FILE_BYTES, STATUS_WORDS, groups_for
from dashboard.models import Dispute, User, utcnow
from dashboard.services import dispute_evidence as evidence
from dashboard.services.dispute_list import BadCursor, Cursor, DisputePage, list_disputes
from dashboard.views.access import READERS, STAFF, roles_required
from dashboard.views.forms import EmptyForm
from dashboard.web import takes_large_bodies

bp = Blueprint("disputes", __name__)


@bp.route("/disputes")
@roles_required(*READERS)
def index() -> ResponseReturnValue:
    """Every dispute, the soonest evidence deadline first (`after`: the page cursor); with
    `open=1&currency=USD`, the open disputes in that currency, as Home counts them."""
    raw = request.args.get("after", "")
    shown = {name: request.args.get(name, "").strip() for name in ("open", "currency")}
    shown = {name: value for name, value in shown.items() if value}
    try:
        open_in = _open_in(shown)
        after = Cursor.parse(raw) if raw else None
    except BadCursor:
        return _refused("This page link is broken: start again from the first page.", shown)
    except ValueError as problem:
        return _refused(str(problem), shown)
    page = list_disputes(
        after=after, per_page=current_app.config["ORDERS_PER_PAGE"], open_in=open_in
    )
    return render_template(
        _LIST, page=page, first=after is None, shown=shown, open_in=open_in, **_words()
    )


def _open_in(shown: dict[str, str]) -> str | None:
    """The currency whose open disputes are asked for, or None for every dispute."""
    if not shown:
        return None
    code = shown.get("currency", "")
    if shown.get("open") != "1" or not (len(code) == 3 and code.isascii() and code.isalpha()):
        raise ValueError(
            "To list the open disputes of one currency, ask for open=1 and a three-letter "
            "currency such as USD; or list every dispute."
        )
    return code.upper()


def _refused(problem: str, shown: dict[str, str]) -> ResponseReturnValue:
    empty = DisputePage(rows=[], next=None)
    return render_template(
        _LIST, page=empty, problem=problem, shown=shown, open_in=None, **_words()
    ), 400


_LIST = "pages/disputes/index.html"


def _words() -> dict[str, object]:
    return {"status_words": STATUS_WORDS, "now": utcnow()}


def _dispute(dispute_id: int) -> Dispute:
    found = evidence.dispute_or_none(dispute_id)
    if found is None:
        abort(404)
    return found


def _page(
    dispute: Dispute,
    *,
    problem: str | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    called, others = groups_for(dispute.reason)
    context = {
        "dispute": dispute,
        "order": dispute.order,
        "called": called,
        "others": others,
        "values": typed if typed is not None else dispute.evidence,
        "answerable": evidence.can_answer(dispute),
        "form": EmptyForm(),
        "problem": problem,
        **_words(),
    }
    return render_template("pages/disputes/detail.html", **context), status


@bp.route("/disputes/<int:dispute_id>")
@roles_required(*READERS)
def detail(dispute_id: int) -> ResponseReturnValue:
    """A dispute: its deadline and status, and its evidence grouped by what the reason
    calls for."""
    return _page(_dispute(dispute_id))


def _typed() -> dict[str, str]:
    return {name: request.form.get(name, "") for name, field in FIELDS.items() if not field.is_file}


@bp.route("/disputes/<int:dispute_id>/evidence", methods=["POST"])
@takes_large_bodies
@roles_required(*STAFF)
def save(dispute_id: int) -> ResponseReturnValue:
    """Save draft (sent to Stripe with submit=false), or Submit: first the confirmation."""
    dispute = _dispute(dispute_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        return _page(dispute, problem="The form expired: try again.", typed=_typed(), status=400)
    typed = _typed()
    if request.form.get("action") == "submit":
        if not evidence.can_answer(dispute):
            return _page(dispute, problem="This dispute takes no evidence now.", status=409)
        items = {name: text for name, text in typed.items() if text.strip()}
        files = {n: v for n, v in dispute.evidence.items() if FIELDS.get(n) and FIELDS[n].is_file}
        return render_template(
            "pages/disputes/confirm.html",
            dispute=dispute,
            order=dispute.order,
            typed=typed,
            items=items,
            files=files,
            fields=FIELDS,
            form=form,
        )
    try:
        saved = evidence.save_evidence(dispute, values=typed, submit=False, actor=_me())
    except evidence.EvidenceRefused as refused:
        return _page(dispute, problem=str(refused), typed=typed, status=422)
    flash(saved.message, "success")
    return redirect(url_for("disputes.detail", dispute_id=dispute.id), code=303)


@bp.route("/disputes/<int:dispute_id>/submit", methods=["POST"])
@takes_large_bodies
@roles_required(*STAFF)
def submit(dispute_id: int) -> ResponseReturnValue:
    """The confirmed Submit: the evidence goes to the bank (submit=true), once."""
    dispute = _dispute(dispute_id)
    if not EmptyForm().validate_on_submit():
        return _page(dispute, problem="The form expired: try again.", status=400)
    try:
        saved = evidence.save_evidence(dispute, values=_typed(), submit=True, actor=_me())
    except evidence.EvidenceRefused as refused:
        return _page(dispute, problem=str(refused), typed=_typed(), status=422)
    flash(saved.message, "success")
    return redirect(url_for("disputes.detail", dispute_id=dispute.id), code=303)


@bp.route("/disputes/<int:dispute_id>/documents", methods=["POST"])
@takes_large_bodies
@roles_required(*STAFF)
def upload(dispute_id: int) -> ResponseReturnValue:
    """A document for one piece of evidence, sent to Stripe's Files API."""
    dispute = _dispute(dispute_id)
    document = request.files.get("document")
    field = request.form.get("field", "")
    if not EmptyForm().validate_on_submit():
        return _page(dispute, problem="The form expired: try again.", status=400)
    if document is None or not document.filename:
        return _page(dispute, problem="Choose a document to upload.", status=422)
    content = document.stream.read(MAX_FILE_BYTES + 1)
    try:
        saved = evidence.upload_document(
            dispute, field=field, filename=document.filename, content=content, actor=_me()
        )
    except evidence.EvidenceRefused as refused:
        return _page(dispute, problem=str(refused), status=422)
    flash(saved.message, "success")
    return redirect(url_for("disputes.detail", dispute_id=dispute.id), code=303)


def _me() -> User:
    me: User = current_user._get_current_object()
    return me
