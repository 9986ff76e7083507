"""The product catalog through its real pages and commands: staff add, change, deactivate
and reactivate products; `flask product create` and `flask product import` do the same
from the command line (an import all or nothing); the order form adds a product as a
line. Bad input is said beside its field or its line, and nothing is written."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Order, OrderLine, Product, Role
from tests.support.database import count
from tests.support.web import post_form


def product_form(**overrides):
    data = {
        "id": "mug-blue",
        "title": "Blue mug",
        "description": "Holds 350 ml.",
        "price": "12.50",
        "currency": "USD",
        "stock": "",
    }
    data.update(overrides)
    return data


def stored(app, product_id):
    with app.app_context():
        product = db.session.get(Product, product_id)
        if product is not None:
            db.session.expunge(product)
        return product


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


def add(cli, *args):
    return cli.invoke(args=["product", "create", *args])


def test_staff_add_a_product_and_see_it_listed(app, signed_in):
    client = signed_in(Role.STAFF)
    response = post_form(client, "/products/new", product_form(stock="3"))
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Added Blue mug (mug-blue) at $12.50." in page
    assert "<code>mug-blue</code>" in page and "$12.50" in page
    product = stored(app, "mug-blue")
    assert (product.unit_amount, product.currency, product.stock, product.active) == (
        1250,
        "USD",
        3,
        True,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"id": "mug blue"}, "only letters A-Z, digits"),
        ({"id": "../etc"}, "only letters A-Z, digits"),
        ({"price": "0"}, "more than zero"),
        ({"price": "-3"}, "cannot be negative"),
        ({"price": "1.999"}, "at most 2 decimal places"),
        ({"price": "99999999"}, "above the largest Stripe accepts"),
        ({"currency": "XXX"}, "Not a valid choice"),
        ({"title": ""}, "This field is required"),
        ({"stock": "lots"}, "whole number from 0"),
    ],
)
def test_a_bad_product_is_shown_back_with_why_and_nothing_is_written(
    app, signed_in, overrides, message
):
    client = signed_in(Role.STAFF)
    response = post_form(client, "/products/new", product_form(**overrides))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert 'value="Blue mug"' in page or overrides.get("title") == ""
    assert count(app, Product) == 0


def test_a_duplicate_id_is_refused_and_the_first_product_is_kept(app, signed_in):
    client = signed_in(Role.STAFF)
    assert post_form(client, "/products/new", product_form()).status_code == 303
    again = post_form(client, "/products/new", product_form(title="Other", price="1.00"))
    assert again.status_code == 422
    assert "A product with the id &#39;mug-blue&#39; already exists." in again.get_data(
        as_text=True
    )
    assert count(app, Product) == 1
    assert stored(app, "mug-blue").title == "Blue mug"


def test_staff_change_a_product_but_not_its_id_or_currency(app, signed_in):
    client = signed_in(Role.STAFF)
    post_form(client, "/products/new", product_form())
    form = client.get("/products/mug-blue/edit").get_data(as_text=True)
    assert 'value="12.50"' in form  # the price as a person types it
    changed = product_form(id="other-id", currency="EUR", title="Big blue mug", price="14")
    assert post_form(client, "/products/mug-blue/edit", changed).status_code == 303
    product = stored(app, "mug-blue")
    assert (product.title, product.unit_amount, product.currency) == ("Big blue mug", 1400, "USD")
    assert stored(app, "other-id") is None
    bad = post_form(client, "/products/mug-blue/edit", product_form(price="1.234"))
    assert bad.status_code == 422 and "at most 2 decimal places" in bad.get_data(as_text=True)
    assert stored(app, "mug-blue").unit_amount == 1400


def test_deactivate_and_reactivate(app, signed_in):
    client = signed_in(Role.STAFF)
    post_form(client, "/products/new", product_form())
    response = post_form(client, "/products/mug-blue/deactivate", follow_redirects=True)
    assert "Blue mug (mug-blue) is no longer offered." in response.get_data(as_text=True)
    assert stored(app, "mug-blue").active is False
    # The order form offers only what is offered.
    assert "mug-blue" not in client.get("/orders/new").get_data(as_text=True)
    post_form(client, "/products/mug-blue/reactivate")
    assert stored(app, "mug-blue").active is True


def test_support_reads_the_catalog_without_its_buttons(app, signed_in, cli):
    add(cli, "--id", "mug", "--title", "Mug", "--price", "3", "--currency", "usd")
    page = signed_in(Role.SUPPORT).get("/products").get_data(as_text=True)
    assert "<code>mug</code>" in page
    assert "Deactivate" not in page and "Add a product" not in page


# -- the command line ------------------------------------------------------------------


def test_product_create_on_the_command_line(app, cli):
    result = add(
        cli, "--id", "tea", "--title", "Green tea", "--price", "12.50", "--currency", "usd",
        "--description", "Loose leaf", "--stock", "40",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Created tea: Green tea, $12.50." in result.output
    product = stored(app, "tea")
    assert (product.unit_amount, product.currency, product.stock) == (1250, "USD", 40)


@pytest.mark.parametrize(
    ("price", "currency", "product_id", "message"),
    [
        ("0", "usd", "tea", "more than zero"),
        ("-1", "usd", "tea", "cannot be negative"),
        ("1.001", "usd", "tea", "at most 2 decimal places"),
        ("1000000", "usd", "tea", "above the largest"),
        ("1", "zzz", "tea", "ZZZ is not a currency this dashboard takes"),
        ("1", "usd", "tea leaf", "only letters A-Z"),
    ],
)
def test_product_create_refuses_bad_input_and_writes_nothing(
    app, cli, price, currency, product_id, message
):
    result = add(cli, "--id", product_id, "--title", "T", "--price", price, "--currency", currency)
    assert result.exit_code == 1
    assert message in result.output
    assert count(app, Product) == 0


def test_product_create_refuses_a_duplicate_id(app, cli):
    assert (
        add(cli, "--id", "tea", "--title", "T", "--price", "1", "--currency", "usd").exit_code == 0
    )
    again = add(cli, "--id", "tea", "--title", "U", "--price", "2", "--currency", "eur")
    assert again.exit_code == 1 and "already exists" in again.output
    assert stored(app, "tea").title == "T"


def write(tmp_path, text, name="products.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return str(path)


GOOD_CSV = (
    "id,title,price,currency,description,stock\n"
    "tea,Green tea,12.50,usd,Loose leaf,40\n"
    'mug,"Mug, blue",8,EUR,,\n'
    "yen-cup,Cup,1000,jpy,,0\n"
)


def test_import_adds_every_product_of_a_good_file(app, cli, tmp_path):
    result = cli.invoke(args=["product", "import", write(tmp_path, GOOD_CSV)])
    assert result.exit_code == 0, result.output
    assert "Imported 3 products." in result.output
    assert stored(app, "mug").title == "Mug, blue"
    assert stored(app, "yen-cup").unit_amount == 1000 and stored(app, "yen-cup").stock == 0
    assert stored(app, "tea").unit_amount == 1250


def test_import_with_bad_rows_imports_nothing_and_names_each_line(app, cli, tmp_path):
    text = (
        "id,title,price,currency\n"
        "tea,Green tea,12.50,usd\n"
        "bad id,Thing,1,usd\n"
        "free,Free thing,0,usd\n"
        "tea,Tea again,1,usd\n"
        "odd,Odd,1.5,jpy\n"
        "short,Short\n"
        "money,Money,1,xyz\n"
    )
    result = cli.invoke(args=["product", "import", write(tmp_path, text)])
    assert result.exit_code == 1
    out = result.output
    assert "line 3: An id holds only letters" in out
    assert "line 4: The price must be more than zero." in out
    assert "line 5: the id 'tea' is also on line 2." in out
    assert "line 6: JPY has no minor unit" in out
    assert "line 7: has 2 cells; the header has 4." in out
    assert "line 8: XYZ is not a currency this dashboard takes" in out
    assert "Nothing was imported: 6 problems" in out
    assert count(app, Product) == 0


def test_import_refuses_ids_already_in_the_catalog(app, cli, tmp_path):
    add(cli, "--id", "mug", "--title", "Old mug", "--price", "1", "--currency", "usd")
    result = cli.invoke(args=["product", "import", write(tmp_path, GOOD_CSV)])
    assert result.exit_code == 1
    assert "line 3: A product with the id 'mug' already exists." in result.output
    assert count(app, Product) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,title,price\ntea,Tea,1\n", "missing: currency"),
        ("id,title,price,currency,colour\n", "unknown: colour"),
        ("id,title,price,currency\n", "a header but no products"),
        ("", "missing: id, title, price, currency"),
        (b"id,title,price,currency\ntea,T\xe9,1,usd\n", "is not UTF-8 text"),
        ('id,title,price,currency\ntea,"unclosed,1,usd\n', "not valid CSV"),
    ],
)
def test_import_refuses_a_file_it_cannot_read(app, cli, tmp_path, content, message):
    result = cli.invoke(args=["product", "import", write(tmp_path, content)])
    assert result.exit_code == 1
    assert message in result.output
    assert count(app, Product) == 0


def test_import_reads_a_byte_order_mark_and_header_case(app, cli, tmp_path):
    text = "\ufeffID,Title,Price,Currency\ntea,Tea,2.00,usd\n"
    result = cli.invoke(args=["product", "import", write(tmp_path, text)])
    assert result.exit_code == 0, result.output
    assert stored(app, "tea").unit_amount == 200


# -- the order form ----------------------------------------------------------------------


def order_form(**overrides):
    data = {
        "buyer_name": "Ada Lovelace",
        "buyer_email": "ada@example.com",
        "currency": "USD",
        "lines-0-description": "",
        "lines-0-quantity": "",
        "lines-0-unit_price": "",
    }
    data.update(overrides)
    return data


def test_the_order_form_adds_a_product_as_a_line(app, signed_in, cli):
    add(cli, "--id", "kettle", "--title", "Kettle", "--price", "30", "--currency", "eur")
    client = signed_in(Role.STAFF)
    assert "Kettle · €30.00 (kettle)" in client.get("/orders/new").get_data(as_text=True)
    picked = post_form(
        client,
        "/orders/new",
        order_form(**{"catalog-product": "kettle", "catalog-add_product": "Add product"}),
    )
    page = picked.get_data(as_text=True)
    assert picked.status_code == 200
    assert 'value="Kettle"' in page and 'value="30.00"' in page
    assert '<option selected value="EUR">' in page  # the order takes the product's currency
    assert count(app, Order) == 0
    created = post_form(
        client,
        "/orders/new",
        order_form(
            currency="EUR",
            **{
                "lines-0-description": "Kettle",
                "lines-0-quantity": "2",
                "lines-0-unit_price": "30.00",
            },
        ),
    )
    assert created.status_code == 303
    with app.app_context():
        line = db.session.scalar(select(OrderLine))
        assert (line.description, line.quantity, line.unit_amount) == ("Kettle", 2, 3000)


def test_a_product_of_another_currency_is_not_added_to_an_order_with_lines(app, signed_in, cli):
    add(cli, "--id", "kettle", "--title", "Kettle", "--price", "30", "--currency", "eur")
    client = signed_in(Role.STAFF)
    data = order_form(
        **{
            "lines-0-description": "Tea",
            "lines-0-unit_price": "2",
            "catalog-product": "kettle",
            "catalog-add_product": "Add product",
        }
    )
    page = post_form(client, "/orders/new", data).get_data(as_text=True)
    assert "Kettle is priced in EUR; this order is in USD." in page
    assert 'value="Tea"' in page and 'value="Kettle"' not in page


def test_an_unknown_or_inactive_product_is_not_added(app, signed_in, cli):
    add(cli, "--id", "kettle", "--title", "Kettle", "--price", "30", "--currency", "eur")
    client = signed_in(Role.STAFF)
    post_form(client, "/products/kettle/deactivate")
    for chosen in ("kettle", "nothing-like-it", "../x"):
        data = order_form(**{"catalog-product": chosen, "catalog-add_product": "Add product"})
        page = post_form(client, "/orders/new", data).get_data(as_text=True)
        assert "Choose a product that is offered." in page


def test_import_refuses_a_file_too_large(app, cli, tmp_path):
    rows = "".join(f"p{n},Thing {n},1,usd\n" for n in range(10_001))
    many = cli.invoke(
        args=["product", "import", write(tmp_path, "id,title,price,currency\n" + rows)]
    )
    assert many.exit_code == 1 and "A file holds at most 10,000 products." in many.output
    big = write(tmp_path, b"id,title,price,currency\n" + b"x" * (16 * 2**20), name="big.csv")
    huge = cli.invoke(args=["product", "import", big])
    assert huge.exit_code == 1 and "is larger than 16 MiB" in huge.output
    assert count(app, Product) == 0


def test_markup_in_a_product_is_shown_as_text(app, signed_in, cli):
    title = "<script>alert(\"x\")</script><img src=x onerror='alert(1)'>"
    result = add(cli, "--id", "mug", "--title", title, "--price", "1", "--currency", "usd",
                 "--description", "<b>bold</b> & 'quoted'")  # fmt: skip
    assert result.exit_code == 0, result.output
    client = signed_in(Role.STAFF)
    for path in ("/products", "/orders/new", "/products/mug/edit"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;alert(" in page, path
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &#39;quoted&#39;" in client.get("/products").get_data(
        as_text=True
    )
