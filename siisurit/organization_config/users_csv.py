"""Creating and updating users in bulk from a CSV file (`make_users`).

Columns (header line, any order, all optional): username, email, full_name (or name; older files: first_name,
last_name), is_active, is_staff, is_superuser, password. Each row needs a username or an e-mail (then the e-mail is
the username); a row shorter than the header has empty trailing cells. Booleans: any non-empty cell (e.g. `x`) is
true, an empty one false; a superuser is staff too. Existing users get their non-empty cells, and an empty
`is_active` cell deactivates them; a password is only set on creation unless `update_passwords`. UTF-8 with or
without BOM; `,` or `;`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from siisurit.input_files import InputFileError, input_file_bytes
from siisurit.models import User

COLUMNS = (
    "username", "email", "full_name", "name", "first_name", "last_name", "is_active", "is_staff", "is_superuser",
    "password",
)  # fmt: skip
_NAME_COLUMNS = ("full_name", "name")  # the same thing under two names; a file uses one of them
_BOOLEAN_DEFAULTS = {"is_active": True, "is_staff": False, "is_superuser": False}
#: Columns holding names, shown in the admin and in any export to a spreadsheet.
_FORMULA_CHECKED_COLUMNS = ("username", "full_name", "name", "first_name", "last_name")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class UsersCsvError(Exception):
    """The CSV file cannot be imported; the message lists every problem with file and line."""

    def __init__(self, path: Path, problems: list[tuple[int | None, str]]) -> None:
        self.problems = [f"{path}:{line}: {message}" if line else f"{path}: {message}" for line, message in problems]
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} problems, nothing was imported:\n" + "\n".join(
                f"  {problem}" for problem in self.problems
            )
        super().__init__(message)


@dataclass
class UsersImportSummary:
    dry_run: bool = False
    created: list[str] = field(default_factory=list)
    updated: list[tuple[str, list[str]]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
        }


@dataclass(frozen=True)
class _Row:
    line: int
    username: str
    #: email and name from non-empty cells.
    cells: dict[str, str]
    #: Booleans of non-empty cells, and `is_active` of an empty one: what an existing user gets.
    booleans: dict[str, bool]
    #: Booleans of every present column (empty = false): what a new user gets; missing columns take defaults.
    new_user_booleans: dict[str, bool]
    password: str


def users_import(*, path: Path | str, update_passwords: bool = False, dry_run: bool = False) -> UsersImportSummary:
    """Create or update the users of the CSV file at `path`; nothing is written if any row is bad (or `dry_run`)."""
    path = Path(path)
    rows = _rows(path)
    summary = UsersImportSummary(dry_run=dry_run)
    with transaction.atomic():
        existing = {user.username: user for user in User.objects.filter(username__in=[row.username for row in rows])}
        for row in rows:
            user = existing.get(row.username)
            if user is None:
                _create(row)
                summary.created.append(row.username)
                continue
            changed = _update(user, row, update_passwords=update_passwords)
            if changed:
                summary.updated.append((row.username, changed))
            else:
                summary.unchanged.append(row.username)
        if dry_run:
            transaction.set_rollback(True)
    return summary


def _create(row: _Row) -> None:
    user = User(username=row.username, email=row.cells.get("email", ""), name=row.cells.get("name", ""))
    for key, default in _BOOLEAN_DEFAULTS.items():
        setattr(user, key, row.new_user_booleans.get(key, default))
    user.is_staff = user.is_staff or user.is_superuser
    if row.password:
        user.set_password(row.password)
    else:
        user.set_unusable_password()
    user.save()


def _update(user: User, row: _Row, *, update_passwords: bool) -> list[str]:
    changed = []
    for key, value in (*row.cells.items(), *row.booleans.items()):
        if getattr(user, key) != value:
            setattr(user, key, value)
            changed.append(key)
    if user.is_superuser and not user.is_staff:  # a superuser signs in at the admin site, which needs staff
        user.is_staff = True
        changed.append("is_staff")
    if update_passwords and row.password and not user.check_password(row.password):
        user.set_password(row.password)
        changed.append("password")
    if changed:
        user.save()
    return changed


def _read_text(path: Path) -> str:
    try:
        return input_file_bytes(path, max_bytes=settings.SII_INPUT_FILE_MAX_BYTES).decode("utf-8-sig")
    except InputFileError as error:
        raise UsersCsvError(path, [(None, str(error))]) from None
    except UnicodeDecodeError as error:
        raise UsersCsvError(path, [(None, f"not UTF-8 text ({error.reason} at byte {error.start})")]) from None


def _delimiter(header: str) -> str:
    """`;` or `,`, whichever separates the header line's columns."""
    return ";" if header.count(";") > header.count(",") else ","


def _rows(path: Path) -> list[_Row]:
    text = _read_text(path)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise UsersCsvError(path, [(1, "the first line must name the columns, e.g. username,email,name,password")])
    reader = csv.reader(text.splitlines(keepends=True), delimiter=_delimiter(lines[0]))
    header = [column.strip().lower() for column in next(reader)]
    problems: list[tuple[int | None, str]] = []
    for column in header:
        if column not in COLUMNS:
            problems.append((1, f"unknown column '{column}' (expected any of: {', '.join(COLUMNS)})"))
        elif header.count(column) > 1:
            problems.append((1, f"column '{column}' appears more than once"))
    if "username" not in header and "email" not in header:
        problems.append((1, "the header needs a 'username' or an 'email' column"))
    if all(column in header for column in _NAME_COLUMNS):
        problems.append((1, "columns 'full_name' and 'name' mean the same; keep one of them"))
    if problems:
        raise UsersCsvError(path, list(dict.fromkeys(problems)))
    rows: list[_Row] = []
    first_lines: dict[str, int] = {}
    for values in reader:
        line = reader.line_num
        if not any(value.strip() for value in values):
            continue
        if len(values) > len(header):
            problems.append((line, f"has {len(values)} cells, the header has {len(header)}"))
            continue
        values += [""] * (len(header) - len(values))  # missing trailing cells are empty cells
        row = _row(dict(zip(header, (value.strip() for value in values), strict=True)), line, problems)
        if row is None:
            continue
        if row.username in first_lines:
            problems.append((line, f"duplicate username '{row.username}' (first on line {first_lines[row.username]})"))
            continue
        first_lines[row.username] = line
        rows.append(row)
    if problems:
        raise UsersCsvError(path, problems)
    return rows


def _cell_problems(cells: dict[str, str]) -> list[str]:
    """NUL characters anywhere; in names, a leading = + - @ that a spreadsheet would run as a formula."""
    problems = [f"column '{column}' contains a NUL character" for column, value in cells.items() if "\x00" in value]
    for column in _FORMULA_CHECKED_COLUMNS:
        value = cells.get(column, "")
        if value.startswith(_FORMULA_STARTS):
            problems.append(f"column '{column}' starts with {value[0]!r}, which spreadsheets run as a formula: refused")
    return problems


def _row(cells: dict[str, str], line: int, problems: list[tuple[int | None, str]]) -> _Row | None:
    cell_problems = _cell_problems(cells)
    if cell_problems:
        problems.extend((line, problem) for problem in cell_problems)
        return None
    email = cells.get("email", "")
    username = cells.get("username", "") or email
    if not username:
        problems.append((line, "needs a username or an email"))
        return None
    count_before = len(problems)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            problems.append((line, f"invalid email '{email}'"))
    try:
        User.username_validator(username)
    except ValidationError:
        problems.append((line, f"invalid username '{username}' (letters, digits and @ . + - _ only)"))
    if len(username) > 150:
        problems.append((line, "username is longer than 150 characters"))
    name = (
        cells.get("full_name", "")
        or cells.get("name", "")
        or " ".join(part for part in (cells.get("first_name", ""), cells.get("last_name", "")) if part)
    )
    if len(name) > 200:
        problems.append((line, "name is longer than 200 characters"))
    if len(problems) > count_before:
        return None
    texts = {key: value for key, value in (("email", email), ("name", name)) if value}
    present = {key: _boolean(cells[key]) for key in _BOOLEAN_DEFAULTS if key in cells}
    return _Row(
        line=line,
        username=username,
        cells=texts,
        # An empty is_staff/is_superuser cell takes no right away; an empty is_active cell means "cannot sign in".
        booleans={key: value for key, value in present.items() if value or key == "is_active"},
        new_user_booleans=present,
        password=cells.get("password", ""),
    )


def _boolean(text: str) -> bool:
    """Siisurit's user lists: a non-empty cell (e.g. `x`) is true, an empty one false."""
    return bool(text)
