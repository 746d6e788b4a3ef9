"""gunicorn's settings, read from the working directory: ``gunicorn 'app:create_app()'``.

Threads rather than processes for the waits on the database and the mail server; two workers for
the two cores this is measured on (raise ``--workers`` to the server's cores).
"""

import gc

worker_class = "gthread"
workers = 2
threads = 4


def post_worker_init(worker):
    """Once the app is built, leave its long-lived objects (modules, templates, the mapped classes)
    out of the garbage collector's full passes, which otherwise walk them all every few requests."""
    gc.freeze()
