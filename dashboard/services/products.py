"""The product catalog: create, change, deactivate and list products, and import many from
a CSV file, all or nothing (docs/agents.md says how agents see them)."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dashboard.domain.catalog import (
    ProductDraft,
    ProductError,
    check_id,
    parse_product,
    price_text,
)
from dashboard.extensions import db
from dashboard.models import Product

log = logging.getLogger(__name__)

CSV_REQUIRED = ("id", "title", "price", "currency")
CSV_OPTIONAL = ("description", "stock")
# A catalog imported by hand; more belongs in several files (or an API).
MAX_IMPORT_ROWS = 10_000


class DuplicateProduct(ProductError):
    def __init__(self, product_id: str) -> None:
        super().__init__({"id": f"A product with the id {product_id!r} already exists."})


class ImportRefused(ValueError):
    """A CSV file with problems: nothing was imported; `problems` are one line each
    ("line 3: …"), in the file's order."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def find(product_id: str) -> Product | None:
    """The product with exactly this id, or None (also for text no id can be)."""
    try:
        check_id(product_id)
    except ProductError:
        return None
    return db.session.get(Product, product_id.strip())


def create(draft: ProductDraft) -> Product:
    """A new, active product; DuplicateProduct if its id is taken (also by a concurrent
    create: the primary key decides)."""
    if db.session.get(Product, draft.id) is not None:
        raise DuplicateProduct(draft.id)
    product = _product(draft)
    try:
        with db.session.begin_nested():
            db.session.add(product)
    except IntegrityError as error:
        raise DuplicateProduct(draft.id) from error
    log.info("product created", extra={"product_id": product.id})
    return product


def update(product: Product, draft: ProductDraft) -> Product:
    """Take a draft's title, description, price and stock; its currency must be the
    product's."""
    if draft.currency != product.currency:
        raise ProductError(
            {"currency": f"A product's currency cannot change: this one is in {product.currency}."}
        )
    product.title = draft.title
    product.description = draft.description
    product.unit_amount = draft.unit_amount
    product.stock = draft.stock
    db.session.flush()
    return product


def set_active(product: Product, active: bool) -> None:
    """Offer the product (to staff's order form and to agents), or stop offering it; the
    orders that named it are untouched."""
    product.active = active
    db.session.flush()


@dataclass(frozen=True)
class ProductLine:
    """A product as an order line, in the text the order form holds (the price as a
    person types it, read back exactly), and the currency the order must be in."""

    description: str
    quantity: str
    unit_price: str
    currency: str


def as_order_line(product_id: str, order_currency: str, *, order_has_lines: bool) -> ProductLine:
    """An offered product as a line of an order in `order_currency`; an order with no
    lines yet takes the product's currency. ProductError if it cannot be added."""
    product = find(product_id)
    if product is None or not product.active:
        raise ProductError({"product": "Choose a product that is offered."})
    if order_has_lines and product.currency != order_currency:
        raise ProductError(
            {
                "product": f"{product.title} is priced in {product.currency}; this order is in "
                f"{order_currency}. Products of another currency go on another order."
            }
        )
    return ProductLine(
        description=product.title,
        quantity="1",
        unit_price=price_text(product.unit_amount, product.currency),
        currency=product.currency,
    )


def all_products() -> list[Product]:
    """Active products first, then inactive, each by id."""
    return list(db.session.scalars(select(Product).order_by(Product.active.desc(), Product.id)))


def active_products() -> list[Product]:
    return list(
        db.session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.id))
    )


def import_csv(text: str) -> list[Product]:
    """Every row of a CSV file (header: id,title,price,currency[,description,stock]) as a
    new product, or none: ImportRefused lists each line's problems."""
    drafts = _read_csv(text)
    taken = set(
        db.session.scalars(select(Product.id).where(Product.id.in_([d.id for _, d in drafts])))
    )
    problems = [
        f"line {line}: A product with the id {draft.id!r} already exists."
        for line, draft in drafts
        if draft.id in taken
    ]
    if problems:
        raise ImportRefused(problems)
    products = [_product(draft) for _, draft in drafts]
    try:
        with db.session.begin_nested():
            db.session.add_all(products)
    except IntegrityError as error:  # made meanwhile by someone else
        raise ImportRefused(
            ["Another product with one of these ids was just made; try again."]
        ) from error
    log.info("products imported", extra={"count": len(products)})
    return products


def _read_csv(text: str) -> list[tuple[int, ProductDraft]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip().lower() for name in reader.fieldnames or []]
    except csv.Error as error:
        raise ImportRefused([f"line 1: not a CSV header ({error})."]) from error
    missing = [name for name in CSV_REQUIRED if name not in header]
    unknown = [name for name in header if name not in CSV_REQUIRED + CSV_OPTIONAL]
    if missing or unknown or len(set(header)) != len(header):
        raise ImportRefused(
            [
                "line 1: the header must name the columns id, title, price, currency "
                "(and optionally description, stock), each once"
                + (f"; missing: {', '.join(missing)}" if missing else "")
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                + "."
            ]
        )
    reader.fieldnames = header
    drafts: list[tuple[int, ProductDraft]] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if len(drafts) + len(problems) >= MAX_IMPORT_ROWS:
                raise ImportRefused([f"A file holds at most {MAX_IMPORT_ROWS:,} products."])
            if None in row or any(value is None for value in row.values()):
                problems.append(
                    f"line {line}: has {_cells(row)} cells; the header has {len(header)}."
                )
                continue
            try:
                draft = parse_product(**{name: row.get(name) or "" for name in header})
            except ProductError as error:
                problems.append(f"line {line}: {error}")
                continue
            if draft.id in seen:
                problems.append(
                    f"line {line}: the id {draft.id!r} is also on line {seen[draft.id]}."
                )
                continue
            seen[draft.id] = line
            drafts.append((line, draft))
    except csv.Error as error:
        problems.append(f"line {reader.line_num}: not valid CSV ({error}).")
    if problems:
        raise ImportRefused(problems)
    if not drafts:
        raise ImportRefused(["The file has a header but no products."])
    return drafts


def _cells(row: dict[str | None, object]) -> int:
    extra = row.get(None)
    filled = sum(1 for key, value in row.items() if key is not None and value is not None)
    return filled + (len(extra) if isinstance(extra, list) else 0)


def _product(draft: ProductDraft) -> Product:
    return Product(
        id=draft.id,
        title=draft.title,
        description=draft.description,
        unit_amount=draft.unit_amount,
        currency=draft.currency,
        stock=draft.stock,
        active=True,
    )
