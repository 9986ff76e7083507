"""The WSGI entry point: `gunicorn wsgi:app` (see gunicorn.conf.py)."""

import logging

from dashboard import create_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

app = create_app()
