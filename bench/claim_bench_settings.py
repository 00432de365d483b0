"""Settings for the claim benchmark's gunicorn (bench/claim_bench.py): the product as deployed, DEBUG
off, on plain HTTP at 127.0.0.1, with the bench's URLs (the product's plus a baseline page)."""

from backoffice.settings import *  # noqa: F403

DEBUG = False
# Plain HTTP on 127.0.0.1: no TLS redirect, cookies without the Secure flag, unhashed static names.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ROOT_URLCONF = "claim_bench_urls"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
