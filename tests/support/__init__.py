"""What the tests share besides fixtures (those are in tests/conftest.py), grouped by job.

`app`: the test configuration and real HTTP serving; `web`: forms, sign-in, pay links;
`database`: the test databases and reading rows back; `stripe`: Stripe's HTTP API as a
double, Stripe-shaped objects and signed events; `localstripe`: calling localstripe
directly; `faults`: Stripe failing at the HTTP boundary; `browser`: Chromium; `axe`:
axe-core run in a page; `routes`: every route of the URL map as a path, and the query
parameters the views read; `gunicorn`: the app behind a real gunicorn configured by
gunicorn.conf.py.
"""

import pkgutil

import pytest

# The helpers assert as tests do: let pytest explain their failures too.
pytest.register_assert_rewrite(*(f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__)))
