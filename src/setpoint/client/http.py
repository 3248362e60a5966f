"""HTTP to a `setpoint server`: JSON calls and Server-Sent Event streams, errors mapped to setpoint's.

The transport under `setpoint.client.remote.RemoteClient`, kept apart from the client's methods:
a failed answer (``{"error": {"code", "message"}}``) is raised as the exception the embedded
client raises for the same problem (`setpoint.client.errors`), a server that cannot be reached is
a `ServerUnavailableError` naming the URL, and a stream that is cut reconnects from its last id.
The token is sent as a bearer header and appears in no message, log line or ``repr``.
"""

from __future__ import annotations

import json
import time
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from setpoint.client.errors import ERROR_CODES, ServerUnavailableError
from setpoint.errors import SetpointError

if typing.TYPE_CHECKING:
    import httpx

STREAM_RETRIES = 30  # reconnections of one stream in a row without receiving anything
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0  # an idle stream gets a ping every second; a plain request answers well before


@dataclass(frozen=True, slots=True)
class SseMessage:
    event: str  # "event", "log", "end", "error" — or "ping" for a keep-alive comment
    data: Any
    id: str | None


def parse_sse(lines: Iterator[str]) -> Iterator[SseMessage]:
    """Server-Sent Events from text lines (the subset setpoint's server sends: id, event, data, comments)."""
    event, mid = "message", None
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield SseMessage(event, json.loads("\n".join(data)), mid)
            event, data, mid = "message", [], None
        elif line.startswith(":"):
            yield SseMessage("ping", None, None)
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
            elif field == "id":
                mid = value


class Connection:
    """One server's HTTP session (``url``, the bearer token), answering in JSON or SSE messages."""

    def __init__(self, url: str, token: str | None, timeout: float) -> None:
        import httpx

        self.url = url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(
            base_url=url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_S),
            follow_redirects=False,
        )

    def close(self) -> None:
        self.http.close()

    def raise_for(self, resp: httpx.Response, what: str | None) -> typing.NoReturn:
        try:
            err = resp.json()["error"]
            code, message = str(err["code"]), str(err["message"])
        except (ValueError, KeyError, TypeError):
            raise ServerUnavailableError(
                f"{self.url} answered {resp.status_code} with something that is not setpoint's API: {resp.text[:200]!r}"
            ) from None
        if code == "not_found" and what is not None and message == "Not Found":
            message = f"{what} not found"
        if code == "unauthenticated":
            message = (
                f"the server at {self.url} refused the request: {message} (give a token: --token or SETPOINT_TOKEN)"
            )
        elif code == "forbidden":
            message = f"the server at {self.url} refused the request: {message}"
        elif resp.status_code >= 500 and code not in ERROR_CODES:
            message = f"the server at {self.url} failed ({resp.status_code} {code}): {message}"
        raise ERROR_CODES.get(code, SetpointError)(message)

    def unreachable(self, e: Exception) -> ServerUnavailableError:
        import httpx

        if isinstance(e, httpx.ConnectError):
            return ServerUnavailableError(f"cannot reach the setpoint server at {self.url}: connection refused ({e})")
        if isinstance(e, httpx.TimeoutException):
            return ServerUnavailableError(
                f"the setpoint server at {self.url} did not answer in time ({type(e).__name__})"
            )
        return ServerUnavailableError(f"the connection to the setpoint server at {self.url} failed: {e}")

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        what: str | None = None,
    ) -> Any:
        import httpx

        headers = {**(headers or {}), **({"content-type": "application/octet-stream"} if content is not None else {})}
        try:
            resp = self.http.request(method, path, json=body, params=params, content=content, headers=headers)
        except httpx.HTTPError as e:
            raise self.unreachable(e) from None
        if resp.status_code >= 400:
            self.raise_for(resp, what)
        try:
            return resp.json()
        except ValueError:
            raise ServerUnavailableError(f"{self.url} answered with something that is not JSON") from None

    def stream(self, path: str, params: dict[str, Any], what: str, *, reconnect: bool = True) -> Iterator[SseMessage]:
        """Messages of an event stream until its ``end``; reconnects (resuming from the last id) when cut.

        With ``reconnect=False`` it also returns when the server closes the stream at its ``timeout``.
        """
        last_id: str | None = None
        import httpx

        failures = 0
        while True:
            headers = {"Last-Event-ID": last_id} if last_id is not None else {}
            try:
                with self.http.stream("GET", path, params=params, headers=headers) as resp:
                    if resp.status_code >= 400:
                        resp.read()
                        self.raise_for(resp, what)
                    for msg in parse_sse(resp.iter_lines()):
                        failures = 0
                        if msg.event == "error":
                            raise ERROR_CODES.get(str(msg.data.get("code")), SetpointError)(
                                str(msg.data.get("message"))
                            )
                        if msg.id is not None:
                            last_id = msg.id
                        yield msg
                        if msg.event == "end":
                            return
                if not reconnect:
                    return
            except httpx.HTTPError as e:
                failures += 1
                if failures > STREAM_RETRIES:
                    raise self.unreachable(e) from None
                time.sleep(min(1.0, 0.1 * failures))
            # Closed without an end (the server's timeout, or it restarted): resume where it stopped.
