"""The WSGI application, for gunicorn (README: Production)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
application = get_wsgi_application()

if os.environ.get("WSGI_GC_TUNING", "1") != "0":
    # The cyclic garbage collector is not needed for what lives as long as the process: Django's
    # modules, settings, URL patterns and models. Frozen, they are never traversed again; and a
    # request leaves most of its garbage to reference counting, so full collections can be
    # rarer. Measured with perf under the claim benchmark: the collector took about a tenth of
    # the web workers' CPU before this.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
