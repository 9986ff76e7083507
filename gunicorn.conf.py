"""Production server settings; every one can be overridden from the environment."""

import os

# wsgi.py sets the garbage collector for a long-lived process once the app is loaded
# (dashboard/collector.py).
wsgi_app = "wsgi:app"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
# Threads wait on Stripe (a capture is a network call) and on the database; webhook
# deliveries that arrive together on a worker's threads share one commit
# (dashboard/services/group_commit.py), so more threads make fuller pages. 8 stays within
# SQLAlchemy's default pool (5 + 10 overflow connections per worker).
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Stripe retries webhooks that take too long; a request stuck this long is a bug.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
accesslog = "-"
errorlog = "-"
# The access log writes /pay/<redacted>/...: a pay link's token never reaches a log.
logger_class = "dashboard.access_log.RedactingAccessLogger"
loglevel = os.environ.get("LOG_LEVEL", "info")
# Trust X-Forwarded-* only from a proxy on this host unless told otherwise.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn would take SCRIPT_NAME and PATH_INFO from request headers sent by those
# addresses, so anyone on this host (or a proxy passing the header on) could move every
# redirect and form action to //evil.example/. The app is served at the root: none.
forwarder_headers = ""


def worker_exit(server: object, worker: object) -> None:
    """A stopping worker applies the webhook deliveries it stored before it goes
    (dashboard/services/inbox/applier.py); what it cannot finish stays pending for the
    others."""
    from dashboard.services.inbox.applier import stop_all

    stop_all()
