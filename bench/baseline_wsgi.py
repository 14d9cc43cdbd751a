"""WSGI entry point of the baseline for gunicorn: settings from the environment."""

from bench.baseline import create_app
from service.config import Settings

app = create_app(Settings.from_env())
