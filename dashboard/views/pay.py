"""The buyer's side: what a pay link shows."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from dashboard.services import orders
from dashboard.services.pay_links import PayLinkExpired, PayLinkInvalid
from dashboard.views.access import public
from dashboard.views.orders import pay_links

bp = Blueprint("pay", __name__)


@bp.route("/pay/<token>")
@public
def show(token: str) -> ResponseReturnValue:
    """The order summary a buyer sees; a bad or old link shows no order at all."""
    try:
        order_id = pay_links().order_id_from(token)
    except PayLinkExpired:
        return render_template("pages/pay/unavailable.html", reason="expired"), 410
    except PayLinkInvalid:
        return render_template("pages/pay/unavailable.html", reason="invalid"), 404
    order = orders.get_order(order_id)
    if order is None:
        return render_template("pages/pay/unavailable.html", reason="invalid"), 404
    return render_template("pages/pay/show.html", order=order)
