"""The WSGI entry point: `gunicorn wsgi:app` (see gunicorn.conf.py), and the app of the
`flask --app wsgi ...` commands."""

import logging

from dashboard import collector, create_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
# Alembic (1.18 on) announces each of its built-in plugins at INFO whenever it is loaded:
# seven lines of noise before every command's own output and in every worker's log.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

app = create_app()
collector.settle()
