"""SQL report views in schema `report` for BI tools, and the read-only PostgreSQL role that reads them.

The view queries live in `sql/<view>.sql`; docs/reports.md documents every column.
"""
