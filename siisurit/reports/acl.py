"""Privileges granted on a view, as GRANT statements that restore them after the view is dropped and created."""

from __future__ import annotations

from typing import Any

_GRANTS_QUERY = """
select
    case when acl.grantee = 0 then 'public' else quote_ident(grantee.rolname) end,
    acl.privilege_type,
    acl.is_grantable
from pg_class as view
cross join lateral aclexplode(view.relacl) as acl
left join pg_roles as grantee on grantee.oid = acl.grantee
where view.oid = to_regclass(%s) and acl.grantee <> view.relowner
order by 1, 2
"""


def view_grant_statements(cursor: Any, qualified_name: str) -> list[str]:
    """GRANT statements recreating what others than the owner may do with the view (empty if it does not exist)."""
    cursor.execute(_GRANTS_QUERY, [qualified_name])
    return [
        f"grant {privilege} on {qualified_name} to {grantee}{' with grant option' if is_grantable else ''}"
        for grantee, privilege, is_grantable in cursor.fetchall()
    ]
