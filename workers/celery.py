"""Where `celery -A workers` looks for the app (Celery imports this module with the current folder on sys.path)."""

from workers.app import app

__all__ = ["app"]
