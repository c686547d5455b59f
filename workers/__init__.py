"""The job queue: Celery app, settings, routing, retry policy, dispatch and beat.

This package imports nothing itself, so that Django's settings (which import `workers.settings`) never load
Celery. `celery -A workers` finds the app in `workers.celery`.
"""
