"""Flask extensions, created unbound here and bound in create_app (one init_app each)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase

# Named constraints so migrations can alter them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()


def upsert_insert() -> Any:
    """The INSERT of the database in use, which knows ON CONFLICT (PostgreSQL's and SQLite's
    alike): for the writes that let a unique index decide between concurrent requests."""
    if db.session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


# mypy cannot use `db.Model` (a runtime attribute) as a base class; it is a Base subclass.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
