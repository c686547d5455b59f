"""Django's connection binds parameters on the server and prepares a statement it runs often (settings.py)."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

_STATEMENT = "select %s::int + 1 as siisurit_prepared_probe"


def _prepared_probes() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("select statement from pg_prepared_statements where statement like %s", ["%prepared_probe%"])
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_run_often_is_prepared_once_with_its_parameters_sent_apart():
    answers = []
    for number in range(8):
        with connection.cursor() as cursor:
            cursor.execute(_STATEMENT, [number])
            answers.append(cursor.fetchone()[0])

    assert answers == list(range(1, 9))
    assert _prepared_probes() == ["select $1::int + 1 as siisurit_prepared_probe"]  # the value travels apart
