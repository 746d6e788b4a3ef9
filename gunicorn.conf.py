"""gunicorn's settings, read from the working directory: ``gunicorn 'app:create_app()'``.

Threads rather than processes for the waits on the database and the mail server; two workers for
the two cores this is measured on (raise ``--workers`` to the server's cores).
"""

import gc
import glob
import os

worker_class = "gthread"
workers = 2
threads = 4


def post_worker_init(worker):
    """Once the app is built, leave its long-lived objects (modules, templates, the mapped classes)
    out of the garbage collector's full passes, which otherwise walk them all every few requests."""
    gc.freeze()


def on_starting(server):
    """Metrics from several processes (``PROMETHEUS_MULTIPROC_DIR``, see blueprints/ops/metrics.py):
    the directory starts empty, so counts of an earlier run (other process ids) are not added in."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.remove(path)


def child_exit(server, worker):
    """A worker process that ended (a restart, ``max_requests``): its figures stay counted, its
    live gauges are dropped (prometheus_client's multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


class _RedactingLogger(__import__("gunicorn.glogging", fromlist=["Logger"]).Logger):
    """gunicorn's access log, if it is turned on (``--access-logfile``), with the request's path,
    query string and referrer redacted as the app's own access log does (``logs.redact_path``:
    mailed links carry tokens, search boxes carry names) and no cookie or authorisation header."""

    def atoms(self, resp, req, environ, request_time):
        from urllib.parse import urlsplit

        from logs import REDACTED, redact_path

        atoms = super().atoms(resp, req, environ, request_time)
        path = redact_path(environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))
        raw = {environ.get("RAW_URI"), environ.get("PATH_INFO"), environ.get("QUERY_STRING")} - {None, ""}
        for key, value in list(atoms.items()):
            if isinstance(value, str) and any(part in value for part in raw):
                atoms[key] = REDACTED
        atoms.update(
            U=redact_path(environ.get("PATH_INFO", "")),
            q=path.partition("?")[2],
            r=f"{environ['REQUEST_METHOD']} {path} {environ['SERVER_PROTOCOL']}",
        )
        referrer = environ.get("HTTP_REFERER")
        if referrer:
            parts = urlsplit(referrer)
            atoms["f"] = atoms["{referer}i"] = (
                f"{parts.scheme}://{parts.netloc}{redact_path(parts.path, parts.query)}"
            )
        for header in ("{cookie}i", "{authorization}i", "{set-cookie}o"):
            if header in atoms:
                atoms[header] = REDACTED
        return atoms


logger_class = _RedactingLogger
