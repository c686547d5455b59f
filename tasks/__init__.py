"""Celery tasks: thin wrappers that take ids, run one job of siisurit/jobs.py and return its small summary.

Task names are explicit and stable (`tasks.<module>.<job>`): beat, Flower and the routing table refer to them.
"""
