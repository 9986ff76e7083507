"""The product catalog: staff list, add, change, deactivate and reactivate products."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from dashboard.domain.catalog import ProductError
from dashboard.models import Product
from dashboard.services import products
from dashboard.views.access import READERS, STAFF, roles_required
from dashboard.views.catalog_forms import ProductForm
from dashboard.views.forms import EmptyForm

bp = Blueprint("products", __name__, url_prefix="/products")


def _product_or_404(product_id: str) -> Product:
    product = products.find(product_id)
    if product is None:
        abort(404, description="There is no product with that id.")
    return product


@bp.route("")
@roles_required(*READERS)
def index() -> ResponseReturnValue:
    """Every product: active ones first, with price, stock and whether it is offered."""
    return render_template(
        "pages/products/index.html", products=products.all_products(), action_form=EmptyForm()
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*STAFF)
def new() -> ResponseReturnValue:
    """Add a product to the catalog."""
    form = ProductForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("pages/products/form.html", form=form, product=None), status
    try:
        product = products.create(form.draft)
    except ProductError as error:
        form.show(error)
        return render_template("pages/products/form.html", form=form, product=None), 422
    flash(f"Added {product.title} ({product.id}) at {product.price_display}.", "success")
    return redirect(url_for("products.index"), code=303)


@bp.route("/<product_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF)
def edit(product_id: str) -> ResponseReturnValue:
    """Change a product's title, description, price or stock (not its id or currency)."""
    product = _product_or_404(product_id)
    if request.method == "GET":
        form = ProductForm.of(product)
        return render_template("pages/products/form.html", form=form, product=product)
    form = ProductForm()
    # The id and currency are shown, not changed: what the browser sends for them is ignored.
    form.id.data, form.currency.data = product.id, product.currency
    if not form.validate():
        return render_template("pages/products/form.html", form=form, product=product), 422
    products.update(product, form.draft)
    flash(f"Saved {product.title} ({product.id}).", "success")
    return redirect(url_for("products.index"), code=303)


@bp.route("/<product_id>/deactivate", methods=["POST"])
@roles_required(*STAFF)
def deactivate(product_id: str) -> ResponseReturnValue:
    """Stop offering a product (to the order form and to agents); orders keep it."""
    return _set_active(product_id, active=False)


@bp.route("/<product_id>/reactivate", methods=["POST"])
@roles_required(*STAFF)
def reactivate(product_id: str) -> ResponseReturnValue:
    """Offer a deactivated product again."""
    return _set_active(product_id, active=True)


def _set_active(product_id: str, *, active: bool) -> ResponseReturnValue:
    product = _product_or_404(product_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    products.set_active(product, active)
    said = "is offered again" if active else "is no longer offered"
    flash(f"{product.title} ({product.id}) {said}.", "success")
    return redirect(url_for("products.index"), code=303)
