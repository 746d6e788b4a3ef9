"""One blueprint per area of the domain, each with the same file names:
``__init__.py`` (the blueprint), ``routes.py`` (thin views) and ``forms.py``."""
