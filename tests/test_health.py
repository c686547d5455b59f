"""The health check the containers use."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.django_db
def test_healthz_answers_ok_after_asking_the_database():
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.content == b"ok"


@pytest.mark.django_db
def test_healthz_only_answers_get():
    assert Client().post("/healthz").status_code == 405
