"""Where the demo's sandbox trackers listen, and the `DEMO_*` variables pointing the demo organization at them.

The sandbox serves one tracker kind per port, in the order of `sandbox.KINDS`: github, gitlab, jira,
youtrack, kimai, clockodo on BASE … BASE+5 (default 18801-18806, so they do not collide with common dev servers).
"""

from __future__ import annotations

from sandbox import KINDS
from sandbox.people import sandbox_users
from sandbox.trackers import DEFAULT_TOKENS

DEMO_SANDBOX_HOST = "127.0.0.1"
DEMO_SANDBOX_BASE_PORT = 18801
DEMO_SANDBOX_SEED = 1
# Moderate sizes: `make demo` finishes within a minute or two, yet the reports have something to show.
DEMO_TASK_COUNT = 300
DEMO_ENTRY_COUNT = 3000

# The browser URL of each kind's seeded project, as a user would copy it (see the `sandbox` docstring;
# tests/test_demo.py checks that these agree with `SandboxTrackers.api_location`).
_LOCATION_PATHS = {
    "github": "/acme/webshop",
    "gitlab": "/acme/webshop",
    "jira": "/browse/SHOP-1",
    "youtrack": "/projects/DEMO",
    "kimai": "/en/admin/project/1/details",
    "clockodo": "/en/projectreports/report/?id=123",
}
# The sandbox's token owner logs in by user name or by e-mail, depending on the tracker.
_USERNAME_IS_EMAIL = {"jira", "clockodo"}


def demo_sandbox_ports(*, base_port: int = DEMO_SANDBOX_BASE_PORT) -> dict[str, int]:
    """`{kind: port}` of the sandbox trackers starting at `base_port`."""
    if not 0 < base_port <= 65535 - len(KINDS) + 1:
        raise ValueError(f"the sandbox base port must lie between 1 and {65535 - len(KINDS) + 1}, not {base_port}")
    return {kind: base_port + index for index, kind in enumerate(KINDS)}


def demo_base_url(kind: str, *, host: str, base_port: int) -> str:
    return f"http://{host}:{demo_sandbox_ports(base_port=base_port)[kind]}"


def demo_tracker_variables(*, host: str = DEMO_SANDBOX_HOST, base_port: int = DEMO_SANDBOX_BASE_PORT) -> dict[str, str]:
    """`DEMO_<KIND>_LOCATION`, `_TOKEN` and `_USERNAME` of every sandbox tracker kind."""
    owner = sandbox_users()[0]
    variables = {}
    for kind in KINDS:
        prefix = f"DEMO_{kind.upper()}"
        variables[f"{prefix}_LOCATION"] = demo_base_url(kind, host=host, base_port=base_port) + _LOCATION_PATHS[kind]
        variables[f"{prefix}_TOKEN"] = DEFAULT_TOKENS[kind]
        variables[f"{prefix}_USERNAME"] = owner.email if kind in _USERNAME_IS_EMAIL else owner.username
    return variables


def is_secret_variable(name: str) -> bool:
    """Variables whose values are never printed (sandbox tokens are no secrets, real ones configured here are)."""
    return name.endswith("_TOKEN")
