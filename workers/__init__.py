"""The job queue: Celery app, settings, routing, retry policy, locks, dispatch and beat.

This package imports nothing itself, so that Django's settings (which import `workers.settings`) and Celery-free
modules such as `workers.locks` never load Celery. `celery -A workers` finds the app in `workers.celery`.
"""
