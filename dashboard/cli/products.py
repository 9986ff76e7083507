"""`flask product …`: add a product to the catalog, or import many from a CSV file."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from dashboard.cli import command
from dashboard.cli.output import count
from dashboard.domain.catalog import ProductError, parse_product
from dashboard.services import products

group = AppGroup("product", help="Manage the product catalog.")

# A CSV of MAX_IMPORT_ROWS products fits well within this.
MAX_IMPORT_BYTES = 16 * 1024 * 1024


@command("create", group)
@click.option("--id", "product_id", required=True, help="letters, digits, - and _ (max 64)")
@click.option("--title", required=True)
@click.option("--price", required=True, help="in major units, e.g. 12.50")
@click.option("--currency", required=True, help="e.g. usd")
@click.option("--description", default="")
@click.option("--stock", default="", help="how many can be sold; leave out: not counted")
def product_create(
    product_id: str, title: str, price: str, currency: str, description: str, stock: str
) -> None:
    """Add one product to the catalog."""
    try:
        product = products.create(
            parse_product(
                id=product_id,
                title=title,
                price=price,
                currency=currency,
                description=description,
                stock=stock,
            )
        )
    except ProductError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Created {product.id}: {product.title}, {product.price_display}.")


@command("import", group)
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def product_import(path: str) -> None:
    """Add every product of a CSV file (header: id,title,price,currency and optionally
    description,stock), or none if any line has a problem."""
    with open(path, "rb") as handle:
        raw = handle.read(MAX_IMPORT_BYTES + 1)
    if len(raw) > MAX_IMPORT_BYTES:
        raise click.ClickException(f"{path} is larger than {MAX_IMPORT_BYTES // 2**20} MiB.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{path} is not UTF-8 text ({error.reason}).") from error
    try:
        made = products.import_csv(text)
    except products.ImportRefused as refused:
        for problem in refused.problems:
            click.echo(problem, err=True)
        raise click.ClickException(
            f"Nothing was imported: {count(len(refused.problems), 'problem')} in {path}."
        ) from refused
    click.echo(f"Imported {count(len(made), 'product')}.")
