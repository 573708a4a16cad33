"""A minimal Reflex event client over Socket.IO (what the compiled frontend does), for backend tests.

Protocol (Reflex 0.10.1): Socket.IO at path ``/_event``, namespace ``/_event``,
connect with ``?token=<client token>``; emit ``event`` with ``{name, payload,
token, router_data}`` where ``name`` is ``<state full name>.<handler>``; the
server answers with ``event`` messages ``{"delta": {state: {var_rx_state_: value}}, ...}``.
"""

from __future__ import annotations

import threading
import time

import socketio

NAMESPACE = "/_event"


class ReflexClient:
    """One browser tab's connection to a Reflex backend."""

    def __init__(self, base_url: str, token: str, cookie: str = "") -> None:
        self.token = token
        self.deltas: list[dict] = []
        self._got = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("event", self._on_event, namespace=NAMESPACE)
        self.sio.connect(
            f"{base_url}?token={token}",
            headers={"Cookie": cookie} if cookie else {},  # the handshake carries the HttpOnly sign-in cookie
            socketio_path="/_event",
            transports=["websocket"],
            namespaces=[NAMESPACE],
            wait_timeout=10,
        )

    def _on_event(self, data) -> None:
        with self._got:
            self.deltas.append(data.get("delta") or {})
            self._got.notify_all()

    def send(self, name: str, payload: dict | None = None, path: str = "/") -> None:
        self.sio.emit(
            "event",
            {
                "name": name,
                "payload": payload or {},
                "token": self.token,
                "router_data": {"pathname": path, "query": {}},
            },
            namespace=NAMESPACE,
        )

    def wait_for(self, state: str, var: str, value, timeout: float = 20):
        """Wait until a delta sets ``state.var`` to ``value``; returns all merged deltas of that state."""
        key = f"{var}_rx_state_"
        deadline = time.monotonic() + timeout
        with self._got:
            while True:
                merged: dict = {}
                for d in self.deltas:
                    merged.update(d.get(state, {}))
                if merged.get(key) == value:
                    return merged
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{state}.{var} never became {value!r}; last: {merged.get(key)!r}")
                self._got.wait(left)

    def close(self) -> None:
        self.sio.disconnect()
