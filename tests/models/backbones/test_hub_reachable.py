"""The pretrained-weights reachability check asks huggingface_hub, so proxies and mirrors apply."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest
from huggingface_hub import constants
from huggingface_hub.utils import close_session

from lightning_pose_arch.models.backbones.base import _hub_reachable


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Online mode with a fresh hub session (it reads the proxy variables when created)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    close_session()
    yield
    close_session()


def test_request_goes_through_https_proxy(online: None, monkeypatch: pytest.MonkeyPatch) -> None:
    requests: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as proxy:
        def answer_once() -> None:
            connection, _ = proxy.accept()
            with connection:
                requests.append(connection.recv(1024))  # then hang up: the hub stays unreachable
        thread = threading.Thread(target=answer_once, daemon=True)
        thread.start()
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.getsockname()[1]}")
        assert _hub_reachable(timeout_s=5.0) is False
        thread.join(timeout=5.0)
    assert requests and requests[0].startswith(b"CONNECT huggingface.co:443")


def test_endpoint_that_answers_is_reachable(online: None, monkeypatch: pytest.MonkeyPatch) -> None:
    class Hub(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with http.server.HTTPServer(("127.0.0.1", 0), Hub) as server:
        threading.Thread(target=server.handle_request, daemon=True).start()
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.server_port}")  # HF_ENDPOINT mirror
        assert _hub_reachable(timeout_s=5.0) is True


def test_offline_mode_is_never_reachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert _hub_reachable() is False
