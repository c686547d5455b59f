"""Optional error reporting to Sentry (`SII_SENTRY_DSN`); nothing is sent when it is empty."""

from __future__ import annotations


def init_sentry(*, dsn: str, environment: str) -> None:
    """Report errors of Django and Celery to Sentry, without personal data or request bodies."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        max_request_body_size="never",
        traces_sample_rate=0.0,
    )
