"""HTTP for connectors: one `requests.Session` per download over the process's connections, failure classification,
conditional requests.

Failures become `TransientError` (retry later: 429, 5xx, rate limits, timeouts, dropped connections) or
`PermanentError` (fix the configuration: 4xx, malformed JSON, plain http to a remote host). Transient failures are
retried in place first (`siisurit.retry_policy.RequestPolicy`); every request keeps to the download's limits
(`siisurit.connectors.limits`: time budget, deadline, response size, page count). Messages name the tracker and
the HTTP status and never contain the token.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import orjson
import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from siisurit.connectors.limits import DownloadLimits
from siisurit.downloads.cache import DownloadCache
from siisurit.errors import DeadlineError, PermanentError, TransientError
from siisurit.retry_policy import RequestPolicy, duration_text

_log = logging.getLogger(__name__)

CONNECT_TIMEOUT_IN_SECONDS = 10
READ_TIMEOUT_IN_SECONDS = 60
MAX_REDIRECTS = 5
#: Open connections a process keeps per host for later requests (a project update downloads up to 4 trackers at once).
KEPT_CONNECTIONS_PER_HOST = 8
#: Characters of a body that is not the tracker's JSON quoted in an error (a foreign service's page stays out).
SNIPPET_LENGTH = 60
USER_AGENT = "Siisurit (https://github.com/roskakori/siisurit)"
_RATE_LIMIT_MESSAGES = ("api rate limit exceeded", "you have exceeded a secondary rate limit")
_SECONDARY_RATE_LIMIT_WAIT_IN_SECONDS = 60.0
_CONNECTION_FAILURES: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "connection refused"),
    (http.client.RemoteDisconnected, "connection closed without an answer"),
    (ConnectionResetError, "connection reset"),
    (socket.gaierror, "host name not found"),
    (http.client.IncompleteRead, "connection closed in the middle of the answer"),
    (urllib3.exceptions.ProtocolError, "connection broken"),
)
_SECRET_QUERY_PATTERN = re.compile(r"(?i)\b(private_token|access_token|api_?key|apikey|token|password|secret)=[^&\s#]+")
_URL_USERINFO_PATTERN = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_HINTS = {
    400: "the tracker rejected the request; check api_location",
    401: "check api_token (and api_username)",
    403: "the token lacks access rights",
    404: "check api_location: not found or not visible with this token",
    410: "the endpoint is retired or the feature is disabled",
    422: "the tracker rejected the request parameters",
}


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` without any of `secrets`, secret-looking query parameters and `user:password@` in URLs."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _URL_USERINFO_PATTERN.sub(lambda match: f"{match.group(1)}***@", text)
    return _SECRET_QUERY_PATTERN.sub(lambda match: f"{match.group(1)}=***", text)


def without_userinfo(netloc: str) -> str:
    """`host[:port]` of a URL's netloc, without any `user:password@` (credentials never go into URLs we build)."""
    return netloc.rpartition("@")[2]


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def ensure_allowed_url(url: str, label: str) -> None:
    """Only https, or plain http to a loopback host (sandbox, tests); anything else is a configuration error."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return
    if parts.scheme == "http":
        host = parts.hostname
        raise PermanentError(f"{label}: plain http:// is only allowed for loopback hosts, use https:// ({host})")
    raise PermanentError(f"{label}: API URL must start with https:// (got scheme {parts.scheme or 'none'!r})")


def body_snippet(text: str) -> str:
    """At most SNIPPET_LENGTH printable characters of `text`, whitespace and control characters collapsed."""
    printable = "".join(character if character.isprintable() else " " for character in text[: SNIPPET_LENGTH * 4])
    return " ".join(printable.split())[:SNIPPET_LENGTH]


def is_within(url: str, scope: str) -> bool:
    """True if `url` has the origin of `scope` and its path lies under the path of `scope`."""
    parts, base = urlsplit(url), urlsplit(scope)
    if (parts.scheme, parts.netloc.lower()) != (base.scheme, base.netloc.lower()):
        return False
    base_path = base.path.rstrip("/")
    return parts.path == base_path or parts.path.startswith(base_path + "/")


def url_with_params(url: str, params: Mapping[str, Any] | None) -> str:
    """The URL with `params` appended to its query, in a stable order (also the cache key)."""
    if not params:
        return url
    parts = urlsplit(url)
    extra = urlencode(sorted((key, value) for key, value in params.items() if value is not None), doseq=True)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _seconds_until(moment: datetime) -> float:
    return max(0.0, (moment - datetime.now(tz=UTC)).total_seconds())


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait as the server says: `Retry-After` (seconds or HTTP date), else a rate limit reset header."""
    value = headers.get("Retry-After")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return _seconds_until(parsedate_to_datetime(value))
            except (TypeError, ValueError):
                pass
    for prefix in ("x-ratelimit", "ratelimit"):
        reset, remaining = headers.get(f"{prefix}-reset"), headers.get(f"{prefix}-remaining")
        if not reset or (remaining is not None and remaining.strip() != "0"):
            continue  # the limit is not exhausted: the reset time says nothing about this refusal
        try:
            number = float(reset)
        except ValueError:
            try:  # Jira: ISO yyyy-MM-ddTHH:mmZ
                return _seconds_until(datetime.fromisoformat(reset.strip()))
            except ValueError:
                continue
        # An epoch timestamp (GitHub, GitLab) or, on some servers, seconds from now.
        return max(0.0, number - time.time()) if number > 1_000_000_000 else max(0.0, number)
    return None


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def connection_failure(error: BaseException) -> str:
    """A short reason for a failed connection (`connection refused`, …) instead of urllib3's nested repr.

    The most specific cause anywhere in the chain of wrapped errors wins (a refused connection inside urllib3's
    "Max retries exceeded" inside requests' ConnectionError)."""
    chain: list[BaseException] = []
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if any(current is seen for seen in chain):
            continue
        chain.append(current)
        pending.extend(item for item in current.args if isinstance(item, BaseException))
        pending.extend(
            item
            for item in (current.__cause__, current.__context__, getattr(current, "reason", None))
            if isinstance(item, BaseException)
        )
    for kind, text in _CONNECTION_FAILURES:
        if any(isinstance(item, kind) for item in chain):
            return text
    return "connection failed"


def decoded_json(response: requests.Response) -> Any:
    """The JSON body: orjson where it can (several times faster than the standard library), `response.json()` for
    whatever orjson refuses (NaN, integers beyond 64 bits, deep nesting, other encodings), so answers and errors stay
    exactly those of `response.json()`."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.json()


def _server_message(response: requests.Response) -> str:
    try:
        data = response.json()
    except (ValueError, RecursionError):
        return f"{len(response.content)} bytes starting {body_snippet(response.text)!r}"
    if isinstance(data, dict):
        for key in ("message", "error_description", "errorMessages", "error", "errors"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message") or json.dumps(value)
            if isinstance(value, list):
                value = "; ".join(str(item) for item in value)
            if value:
                return str(value)[:200]
    return json.dumps(data)[:200]


def _is_rate_limited_403(response: requests.Response, message: str) -> bool:
    headers = response.headers
    return (
        headers.get("x-ratelimit-remaining") == "0"
        or "Retry-After" in headers
        or message.lower().startswith(_RATE_LIMIT_MESSAGES)
    )


_process_adapter: tuple[int, HTTPAdapter] | None = None
#: What the environment says for requests to an origin (`HttpClient._environment`), read once per process.
_origin_environments: dict[str, dict[str, Any]] = {}
_process_adapter_guard = threading.Lock()


def process_http_adapter() -> HTTPAdapter:
    """The connection pools of this process, shared by all its downloads, one after another or in parallel threads.

    A download reuses the connection an earlier one left open to the same host instead of opening its own: a TCP and
    a TLS handshake less per job for both sides (the sandbox's CPU per download of the unchanged fan-out 1.3 -> 0.9
    ms: a thread per connection). Credentials travel with each request, never with a connection; pools are apart per
    host, port, CA bundle and client certificate. A forked process (a worker's pool process) starts pools of its own.
    """
    global _process_adapter
    with _process_adapter_guard:
        if _process_adapter is None or _process_adapter[0] != os.getpid():
            _process_adapter = (os.getpid(), HTTPAdapter(pool_maxsize=KEPT_CONNECTIONS_PER_HOST))
        return _process_adapter[1]


@dataclass
class Response:
    """A parsed answer: `data` is the JSON body, None on 304 Not Modified (then `cached` holds the cache entry)."""

    url: str
    status: int
    headers: CaseInsensitiveDict
    data: Any
    links: dict[str, dict[str, str]] = field(default_factory=dict)
    cached: dict[str, Any] | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class HttpClient:
    """JSON over HTTP for one tracker and one download; counts requests; never shows the token."""

    def __init__(
        self,
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        secrets: Iterable[str] = (),
        cache: DownloadCache | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT_IN_SECONDS, READ_TIMEOUT_IN_SECONDS),
        scope: str | None = None,
        policy: RequestPolicy | None = None,
        limits: DownloadLimits | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.label = label
        #: When set (the tracker's api_base_url), every request and redirect must stay under this URL.
        self.scope = scope
        self.cache = cache
        self.timeout = timeout
        self.policy = policy if policy is not None else RequestPolicy.from_settings()
        self.limits = limits if limits is not None else DownloadLimits()
        self._sleep = sleep
        #: Attempts repeated in place after a transient failure (all requests of this client).
        self.retry_count = 0
        #: Where listings start instead of their first page (`pagination.listing_key` → marker): set to resume an
        #: interrupted download from its last committed page.
        self.resume_from: dict[str, Any] = {}
        self.request_count = 0
        self.not_modified_count = 0
        self._secrets = [secret for secret in secrets if secret]
        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        self._session.headers["Accept"] = "application/json"
        self._session.headers.update(headers or {})
        self._session.auth = auth
        self._session.trust_env = False  # nothing of the session reads the environment but `_environment`
        adapter = process_http_adapter()
        for prefix in ("https://", "http://"):
            self._session.mount(prefix, adapter)

    def close(self) -> None:
        self._session.adapters.clear()  # the process's connections stay open for the next download
        self._session.close()

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def get(
        self, url: str, params: Mapping[str, Any] | None = None, *, conditional: bool = False, page: int = 1
    ) -> Response:
        """GET JSON; with `conditional`, send the cached ETag / Last-Modified and accept 304.

        `page` is the number of this request within a listing: a failure of a later page names that page and does
        not send the user to the configuration, which the earlier pages already proved right.
        """
        if page > self.limits.max_pages:
            raise PermanentError(
                f"{self.label}: stopped after {self.limits.max_pages} pages of one listing, the limit "
                f"(SII_DOWNLOAD_MAX_PAGES); the tracker still names a next page of {self.redact(urlsplit(url).path)}"
            )
        full_url = url_with_params(url, params)
        cached = self.cache.page(full_url) if conditional and self.cache is not None else None
        headers = {}
        if cached:
            if cached.get("etag"):
                headers["If-None-Match"] = cached["etag"]
            if cached.get("last_modified"):
                headers["If-Modified-Since"] = cached["last_modified"]
        response = self._send("GET", full_url, headers=headers, page=page)
        if response.status_code == 304:
            if not cached:
                raise PermanentError(f"{self.label}: HTTP 304 Not Modified without a conditional request")
            self.not_modified_count += 1
            return Response(full_url, 304, response.headers, None, response.links, cached=cached)
        return Response(full_url, response.status_code, response.headers, self._json(response), response.links)

    def post(self, url: str, body: Any) -> Response:
        response = self._send("POST", url, json_body=body)
        return Response(url, response.status_code, response.headers, self._json(response), response.links)

    def _send(
        self, method: str, url: str, *, headers: Mapping[str, str] | None = None, json_body: Any = None, page: int = 1
    ):
        """One request, following redirects only within the same host (credentials never go elsewhere)."""
        host = urlsplit(url).netloc
        for _ in range(MAX_REDIRECTS + 1):
            ensure_allowed_url(url, self.label)
            if self.scope and not is_within(url, self.scope):
                raise PermanentError(
                    f"{self.label}: refusing {self.redact(urlsplit(url).path)!r}: requests stay under api_base_url"
                )
            response = self._request_with_retries(method, url, headers=headers, json_body=json_body, page=page)
            if not response.is_redirect:
                return response
            target = urljoin(url, response.headers["Location"])
            if urlsplit(target).netloc != host:
                raise PermanentError(
                    f"{self.label}: HTTP {response.status_code} redirects to another host "
                    f"({urlsplit(target).hostname}); set api_base_url if that is intended"
                )
            url = target
            if response.status_code in (301, 302, 303) and method != "GET":
                method, json_body = "GET", None
        raise PermanentError(f"{self.label}: more than {MAX_REDIRECTS} redirects")

    def _request_with_retries(
        self, method: str, url: str, *, headers: Mapping[str, str] | None, json_body: Any, page: int
    ) -> requests.Response:
        """The request, retried in place on transient failures as `self.policy` allows and the deadline permits.

        When the budget is spent the TransientError says what was tried and for how long, and keeps the server's
        `retry_after` for the job-level retry.
        """
        started = time.monotonic()
        retries = 0
        while True:
            try:
                response = self._request_once(method, url, headers=headers, json_body=json_body)
                if not response.is_redirect:
                    self._raise_for_status(response, page)
                return response
            except TransientError as error:
                wait = self.policy.wait(retries, error.retry_after)
                seconds_left = self.limits.seconds_left()
                if wait is not None and seconds_left is not None and wait >= seconds_left:
                    wait = None
                if wait is None:
                    raise self._given_up(error, retries + 1, time.monotonic() - started) from None
                retries += 1
                self.retry_count += 1
                _log.info("%s, attempt %d of %d in %.1f s", error, retries + 1, self.policy.attempts, wait)
                self._sleep(wait)

    def _given_up(self, error: TransientError, attempts: int, seconds: float) -> TransientError:
        if attempts == 1:
            return error
        reason = str(error).removeprefix(f"{self.label}: ")
        return TransientError(
            f"{self.label}: gave up after {attempts} attempts over {duration_text(seconds)}: {reason}",
            retry_after=error.retry_after,
        )

    def _request_once(
        self, method: str, url: str, *, headers: Mapping[str, str] | None, json_body: Any
    ) -> requests.Response:
        """One attempt: the answer with its whole body, read within the request's time budget and size limit."""
        self._check_deadline()
        ends_at = self.limits.request_end()
        budget = ends_at - time.monotonic()
        timeout = (min(self.timeout[0], budget), min(self.timeout[1], budget))
        self.request_count += 1
        response = None
        try:
            response = self._transmit(method, url, headers=headers, json_body=json_body, timeout=timeout)
            response._content = self._body(response, ends_at)
            return response
        except (requests.Timeout, urllib3.exceptions.TimeoutError):
            self._check_deadline(f" while waiting for {self.redact(urlsplit(url).path)}")
            raise TransientError(f"{self.label}: no answer within {timeout[1]:g} s ({_host(url)})") from None
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            urllib3.exceptions.HTTPError,
        ) as error:
            raise TransientError(f"{self.label}: {connection_failure(error)} ({_host(url)})") from None
        except requests.RequestException as error:
            raise TransientError(f"{self.label}: request failed: {self.redact(str(error))}") from None
        finally:
            if response is not None:
                response.close()

    def _transmit(
        self, method: str, url: str, *, headers: Mapping[str, str] | None, json_body: Any, timeout: tuple[float, float]
    ) -> requests.Response:
        """Send one request as `Session.request` would, without following redirects, the body not yet read.

        Prepared here from the session's headers, cookies and auth and the environment read once per origin and
        process (`_environment`): `Session.request` merges every session setting again for each request, a sixth of the
        CPU of a request, and reads the environment again (walking all its variables, a tenth).
        """
        session = self._session
        environment = self._environment(url)
        merged = CaseInsensitiveDict(session.headers)
        merged.update(headers or {})
        prepared = requests.PreparedRequest()
        prepared.prepare(
            method=method,
            url=url,
            headers={name: value for name, value in merged.items() if value is not None},
            json=json_body,
            cookies=session.cookies,
            auth=session.auth or environment["netrc_auth"],
        )
        return session.send(
            prepared,
            timeout=timeout,
            allow_redirects=False,
            stream=True,
            proxies=environment["proxies"],
            verify=environment["verify"],
            cert=environment["cert"],
        )

    def _environment(self, url: str) -> dict[str, Any]:
        """Proxies, CA bundle and .netrc credentials for the URL's origin, as requests reads them from the environment
        (`trust_env`); read once per origin and process, as all configuration (reading them was a thirtieth of the
        worker's CPU for a download that finds nothing new)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        settings = _origin_environments.get(origin)
        if settings is None:
            session = self._session
            session.trust_env = True
            merged = session.merge_environment_settings(url, {}, True, None, None)
            session.trust_env = False
            settings = {key: merged[key] for key in ("proxies", "verify", "cert")}
            settings["netrc_auth"] = requests.utils.get_netrc_auth(url)
            _origin_environments[origin] = settings
        return settings

    def _check_deadline(self, doing: str = "") -> None:
        """Raise DeadlineError if the job's time is up (`doing` says what was going on)."""
        seconds_left = self.limits.seconds_left()
        if seconds_left is not None and seconds_left <= 0:
            raise DeadlineError(
                f"{self.label}: stopped at the job's time limit of {duration_text(self.limits.time_limit or 0)} "
                f"(SII_ASYNC_QUEUE_TIMEOUT_IN_SECONDS){doing}; the pages downloaded so far are kept"
            )

    def _body(self, response: requests.Response, ends_at: float) -> bytes:
        """The body, read in pieces as they arrive: a trickling answer cannot outlast the budget, nor a huge one
        the memory."""
        limit = self.limits.max_response_bytes
        path = self.redact(urlsplit(response.url).path)
        declared = (response.headers.get("Content-Length") or "").strip()
        too_large = f"{self.label}: the answer for {path} is larger than the limit of {limit:,} bytes " + (
            "(SII_HTTP_MAX_RESPONSE_BYTES)"
        )
        if declared.isdigit() and int(declared) > limit:
            raise PermanentError(too_large)
        pieces, size = [], 0
        while True:
            if time.monotonic() > ends_at:
                self._check_deadline(f" while {path} was still arriving ({size:,} bytes)")
                raise TransientError(
                    f"{self.label}: the answer for {path} took longer than the request budget of "
                    f"{duration_text(self.limits.request_budget)} (SII_HTTP_REQUEST_BUDGET_IN_SECONDS; "
                    f"{size:,} bytes arrived)"
                )
            piece = response.raw.read1(65536, decode_content=True)
            if not piece:
                return b"".join(pieces)
            size += len(piece)
            if size > limit:
                raise PermanentError(too_large)
            pieces.append(piece)

    def _raise_for_status(self, response: requests.Response, page: int = 1) -> None:
        status = response.status_code
        if status < 400:
            return
        path = urlsplit(response.url).path
        message = self.redact(_server_message(response))
        where = f"{self.label}: HTTP {status} {response.reason or ''}".rstrip() + f" for {self.redact(path)}"
        if page > 1:
            where += f" (page {page})"
        if status == 429 or status >= 500 or (status == 403 and _is_rate_limited_403(response, message)):
            retry_after = retry_after_seconds(response.headers)
            if retry_after is None and status in (403, 429) and "secondary" in message.lower():
                retry_after = _SECONDARY_RATE_LIMIT_WAIT_IN_SECONDS
            suffix = f", retry after {retry_after:.0f} s" if retry_after is not None else ""
            raise TransientError(f"{where}: {message}{suffix}", retry_after=retry_after)
        if page > 1:
            hint = f"the tracker refused page {page} after sending the pages before it"
        else:
            hint = _HINTS.get(status, "the tracker refused the request")
        raise PermanentError(f"{where}: {message} ({hint})")

    def _json(self, response: requests.Response) -> Any:
        try:
            return decoded_json(response)
        except RecursionError:
            raise PermanentError(
                f"{self.label}: JSON nested too deeply from {self.redact(urlsplit(response.url).path)}"
            ) from None
        except ValueError:
            snippet = self.redact(body_snippet(response.text))
            raise PermanentError(
                f"{self.label}: HTTP {response.status_code} with malformed JSON from "
                f"{self.redact(urlsplit(response.url).path)} ({len(response.content)} bytes, starting {snippet!r})"
            ) from None
