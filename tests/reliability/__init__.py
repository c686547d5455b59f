"""Failure injection: real PostgreSQL, Redis, Celery worker processes and sandbox trackers; see docs/reliability.md."""
