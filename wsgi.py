"""The WSGI entry point: `gunicorn wsgi:app` (see gunicorn.conf.py), and the app of the
`flask --app wsgi ...` commands."""

import logging

from dashboard import collector, create_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

app = create_app()
collector.settle()
