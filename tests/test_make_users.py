"""make_users: CSV variants, per-row errors with lines, updates, passwords, dry run."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from siisurit.models import User
from siisurit.organization_config.users_csv import UsersCsvError, users_import
from tests.factories import make_user

pytestmark = pytest.mark.django_db
_EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _csv(tmp_path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    path = tmp_path / "users.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_creates_users_with_all_columns(tmp_path):
    path = _csv(
        tmp_path,
        "username,email,name,is_active,is_staff,is_superuser,password\n"
        "alice,alice@example.com,Alice Adams,x,x,,secret-alice-1\n"
        "bob,bob@example.com,Bob Brown,,,x,\n",
    )

    summary = users_import(path=path)

    assert summary.as_dict() == {"dry_run": False, "created": 2, "updated": 0, "unchanged": 0}
    alice, bob = User.objects.get(username="alice"), User.objects.get(username="bob")
    assert (alice.email, alice.name, alice.is_active, alice.is_staff, alice.is_superuser) == (
        "alice@example.com",
        "Alice Adams",
        True,
        True,
        False,
    )
    assert alice.check_password("secret-alice-1")
    assert (bob.is_active, bob.is_staff, bob.is_superuser, bob.has_usable_password()) == (False, True, True, False)


def test_utf8_bom_semicolons_old_name_columns_and_email_as_username(tmp_path):
    path = _csv(
        tmp_path,
        "first_name;last_name;email;username\r\nJürgen;Müller;juergen@example.com;\r\nAnna;;anna@example.com;anna\r\n",
        encoding="utf-8-sig",
    )

    users_import(path=path)

    juergen = User.objects.get(username="juergen@example.com")
    assert (juergen.name, juergen.email, juergen.is_active, juergen.is_staff) == (
        "Jürgen Müller",
        "juergen@example.com",
        True,
        False,
    )
    assert User.objects.get(username="anna").name == "Anna"


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_written(tmp_path):
    path = _csv(
        tmp_path,
        "username,email,name\n"
        "good,good@example.com,Good\n"
        ",,Nobody\n"
        "carl,not-an-email,Carl\n"
        "good,other@example.com,Again\n"
        "\n"
        "dora,dora@example.com,Dora,extra\n",
    )

    with pytest.raises(UsersCsvError) as caught:
        users_import(path=path)

    assert caught.value.problems == [
        f"{path}:3: needs a username or an email",
        f"{path}:4: invalid email 'not-an-email'",
        f"{path}:5: duplicate username 'good' (first on line 2)",
        f"{path}:7: has 4 cells, the header has 3",
    ]
    assert not User.objects.exists()


def test_the_guide_s_examples_import_full_name_short_rows_and_a_superuser_who_is_staff(tmp_path):
    users_import(path=_csv(tmp_path, "username,password,is_superuser\nadmin_alice,not-secret,x\nalice,not-secret\n"))
    users_import(path=_csv(tmp_path, "full_name,email,password\nClaire Clark,claire@example.com,not-secret\n"))

    admin_alice, alice = User.objects.get(username="admin_alice"), User.objects.get(username="alice")
    assert (admin_alice.is_superuser, admin_alice.is_staff, admin_alice.is_active) == (True, True, True)
    assert (alice.is_superuser, alice.is_staff, alice.is_active) == (False, False, True)
    assert alice.check_password("not-secret")
    claire = User.objects.get(username="claire@example.com")
    assert (claire.name, claire.email) == ("Claire Clark", "claire@example.com")


def test_any_non_empty_cell_is_true_and_an_empty_one_false(tmp_path):
    users_import(path=_csv(tmp_path, "username,is_active,is_staff\nwords,no,0\nempty,,\n"))

    words, empty = User.objects.get(username="words"), User.objects.get(username="empty")
    assert (words.is_active, words.is_staff) == (True, True)
    assert (empty.is_active, empty.is_staff) == (False, False)


def test_existing_users_are_deactivated_by_an_empty_is_active_cell_and_superusers_become_staff(tmp_path):
    make_user("felix", is_active=True)
    make_user("gina", is_staff=False, is_superuser=False)
    make_user("hugo", is_staff=True)

    summary = users_import(
        path=_csv(tmp_path, "username,is_active,is_staff,is_superuser\nfelix,,,\ngina,x,,x\nhugo,x\n")
    )

    assert summary.updated == [("felix", ["is_active"]), ("gina", ["is_superuser", "is_staff"])]
    assert User.objects.get(username="felix").is_active is False
    gina = User.objects.get(username="gina")
    assert (gina.is_superuser, gina.is_staff) == (True, True)
    assert User.objects.get(username="hugo").is_staff, "an empty is_staff cell takes no right away"


def test_full_name_and_name_together_are_refused(tmp_path):
    with pytest.raises(UsersCsvError, match=r"users\.csv:1: columns 'full_name' and 'name' mean the same"):
        users_import(path=_csv(tmp_path, "username,full_name,name\nalice,Alice Adams,Alice\n"))


def test_unknown_column_is_reported_on_line_one(tmp_path):
    path = _csv(tmp_path, "username,e_mail\nalice,alice@example.com\n")

    with pytest.raises(CommandError, match=r"users\.csv:1: unknown column 'e_mail'"):
        call_command("make_users", str(path))


def test_existing_users_get_non_empty_cells_and_passwords_only_when_asked(tmp_path):
    make_user("alice", email="old@example.com", name="Alice Old", password="old-password-1", is_staff=True)
    path = _csv(tmp_path, "username,email,name,is_staff,password\nalice,,Alice New,,new-password-1\n")

    summary = users_import(path=path)

    alice = User.objects.get(username="alice")
    assert summary.updated == [("alice", ["name"])]
    assert (alice.email, alice.name, alice.is_staff) == ("old@example.com", "Alice New", True)
    assert alice.check_password("old-password-1")

    summary = users_import(path=path, update_passwords=True)
    assert summary.updated == [("alice", ["password"])]
    assert User.objects.get(username="alice").check_password("new-password-1")
    assert users_import(path=path, update_passwords=True).unchanged == ["alice"]


def test_second_import_is_unchanged_and_dry_run_writes_nothing(tmp_path):
    path = _csv(tmp_path, "username,email\nalice,alice@example.com\n")
    stdout = io.StringIO()

    call_command("make_users", str(path), "--dry-run", stdout=stdout)
    assert not User.objects.exists()
    assert "would create user 'alice'" in stdout.getvalue()
    assert "nothing was written" in stdout.getvalue()

    call_command("make_users", str(path), stdout=io.StringIO())
    stdout = io.StringIO()
    call_command("make_users", str(path), stdout=stdout)
    assert "0 created, 0 updated, 1 unchanged" in stdout.getvalue()


def test_verbosity_zero_is_silent(tmp_path):
    stdout = io.StringIO()
    call_command("make_users", str(_csv(tmp_path, "email\na@example.com\n")), verbosity=0, stdout=stdout)
    assert stdout.getvalue() == ""
    assert User.objects.filter(username="a@example.com").exists()


def test_demo_users_file_imports(tmp_path):
    summary = users_import(path=_EXAMPLES / "demo-users.csv")
    assert sorted(summary.created) == ["alice", "bob", "carol", "dave"]
