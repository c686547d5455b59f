"""The demo: the whole main job on the sandbox trackers, from a fresh clone (`make demo`, `manage.py demo`).

- `trackers.py` - where the demo expects the sandbox trackers (fixed ports 18801-18806) and the `DEMO_*`
  variables `examples/demo-organization.yaml` reads.
- `organization.py` - `demo_organization_make`: the demo users and the demo organization (idempotent).
- `sandbox.py` - run the sandbox trackers for the demo, or reuse those `make up` already serves.
- `worker.py` - one Celery worker as a subprocess (started with `python -m celery`; this package imports no Celery).
- `summary.py` - what the demo downloaded and matched, per project.
"""
