"""Routing, authentication hooks, error answers and page caching shared by the tracker imitations."""

from __future__ import annotations

import base64
import binascii
import html
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from urllib.parse import unquote, urlencode

from sandbox.faults import Fault
from sandbox.messages import Request, Response
from sandbox.people import SandboxUser

_PAGE_CACHE_BYTES = 48 * 1024 * 1024

Route = tuple[str, str, bool]  # (regular expression of the raw path, handler method name, needs authentication)


class PageCache:
    """Serialized JSON pages by key, evicting the oldest beyond a byte budget (thread safe)."""

    def __init__(self, max_bytes: int = _PAGE_CACHE_BYTES) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._pages: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
                return page
        page = make()
        with self._lock:
            if key not in self._pages:
                self._pages[key] = page
                self._bytes += len(page)
            while self._bytes > self._max_bytes and self._pages:
                self._bytes -= len(self._pages.popitem(last=False)[1])
        return page


class BaseApi:
    """Subclasses set ``kind`` and ``routes`` and implement ``authenticate`` and ``error``."""

    kind = ""
    routes: tuple[Route, ...] = ()
    #: Browser pages (regular expression, title) answered with a small HTML page, without authentication.
    pages: tuple[tuple[str, str], ...] = ()

    def __init__(self, *, token: str, username: str, users: tuple[SandboxUser, ...]) -> None:
        self.token = token
        self.username = username
        self.users = users
        self.page_cache = PageCache()
        self._routes = [(re.compile(pattern), name, needs_auth) for pattern, name, needs_auth in self.routes]
        self._pages = [(re.compile(pattern), title) for pattern, title in self.pages]

    # To implement per tracker

    def authenticate(self, request: Request) -> SandboxUser | None:
        raise NotImplementedError

    def error(self, status: int, message: str | None = None) -> Response:
        raise NotImplementedError

    def unauthorized(self, request: Request) -> Response:
        return self.error(401)

    # Shared

    @property
    def owner(self) -> SandboxUser:
        """The user the accepted token belongs to."""
        return self.users[0]

    def handle(self, request: Request) -> Response:
        for pattern, name, needs_auth in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            user = self.authenticate(request)
            if needs_auth and user is None:
                return self.unauthorized(request)
            try:
                return getattr(self, name)(request, *(unquote(group) for group in match.groups()))
            except ValueError as error:
                return self.error(400, str(error))
        for pattern, title in self._pages:
            if pattern.fullmatch(request.path):
                return self.browser_page(request, title)
        return self.error(404)

    def fault_response(self, fault: Fault, request: Request) -> Response:
        response = self.error(fault.status or 503)
        if fault.retry_after is not None:
            response.headers.append(("Retry-After", str(fault.retry_after)))
        return response

    def browser_page(self, request: Request, title: str) -> Response:
        body = (
            f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
            f"<p>Siisurit sandbox imitating {html.escape(self.kind)}. Copy this page's URL into a tracker's "
            f"<code>api_location</code>; API token: <code>{html.escape(self.token)}</code>, user name: "
            f"<code>{html.escape(self.username)}</code>.</p>"
        )
        return Response.text(body, content_type="text/html; charset=utf-8")

    def user_by_token(self, token: str | None) -> SandboxUser | None:
        return self.owner if token is not None and token == self.token else None


def bearer_token(request: Request, *schemes: str) -> str | None:
    """The token of ``Authorization: <scheme> <token>`` for one of ``schemes`` (default Bearer)."""
    value = request.header("Authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() in {name.lower() for name in schemes or ("Bearer",)} and token.strip():
        return token.strip()
    return None


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """(user, password) of ``Authorization: Basic ...``."""
    encoded = bearer_token(request, "Basic")
    if encoded is None:
        return None
    try:
        user, separator, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if separator else None


def query_key(request: Request, *ignored: str) -> tuple:
    """A hashable, order-independent key of the query parameters (for caches)."""
    return tuple(sorted((name, tuple(values)) for name, values in request.query.items() if name not in ignored))


def page_links(request: Request, page_param: str, pages: Sequence[tuple[str, int]], *, path: str | None = None) -> str:
    """A `Link` header value naming (relation, page number) pages of this request's listing: the URL of this request
    (or of `path`) with another page number, the other parameters kept and encoded once for all links (quoting them
    for each link was two fifths of the sandbox's CPU for a GitHub page)."""
    query = [(name, value) for name, values in request.query.items() if name != page_param for value in values]
    others = urlencode(query)
    start = f"{request.base_url}{path or request.path}?{others}{'&' if others else ''}{page_param}="
    return ", ".join(f'<{start}{page}>; rel="{relation}"' for relation, page in pages)
