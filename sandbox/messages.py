"""Request and response values passed between the HTTP server and the tracker API imitations."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Protocol

from sandbox.faults import Fault

JSON_TYPE = "application/json; charset=utf-8"


@dataclass(slots=True)
class Request:
    method: str
    #: Raw path without query; percent escapes are kept (GitLab's ``acme%2Fwebshop``).
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    #: ``http://127.0.0.1:PORT`` of the server that received the request.
    base_url: str

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def params(self, name: str) -> list[str]:
        """All values of ``name`` and ``name[]`` (PHP-style arrays)."""
        return self.query.get(name, []) + self.query.get(f"{name}[]", [])

    def int_param(self, name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
        """An int parameter clamped into range; ``ValueError`` if it is not a number."""
        text = self.param(name)
        value = default if text in (None, "") else int(text)
        value = max(minimum, value)
        return min(value, maximum) if maximum is not None else value

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json_body(self) -> Any:
        return json.loads(self.body) if self.body else {}


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = JSON_TYPE

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
        return cls(status, json.dumps(data, separators=(",", ":")).encode(), list(headers or []))

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> Response:
        return cls(status, text.encode(), [], content_type)


class TrackerApi(Protocol):
    """What the HTTP server needs from the imitation of one tracker."""

    def handle(self, request: Request) -> Response: ...

    def fault_response(self, fault: Fault, request: Request) -> Response: ...
