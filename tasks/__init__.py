"""Celery tasks, one per job: each module lists the tasks of the jobs declared with its `task_module`.

A task is derived from its job's declaration in siisurit/jobs/catalog.py (name `tasks.<module>.<job>`, queue,
arguments, lock); it passes ids only and holds no logic. Task names are stable: beat, Flower and queued messages
refer to them.
"""
