"""The loopback server that `--site` pages are served from."""

import socket
import struct
import time
import urllib.request

from spotdiff.generator.sources import serve_directory


def test_a_client_that_hangs_up_mid_response_leaves_the_console_quiet(tmp_path, capfd):
    """Browsers drop connections when a context closes mid-load: that is no traceback."""
    (tmp_path / "big.bin").write_bytes(b"x" * 20_000_000)
    (tmp_path / "page.html").write_text("<p>still served</p>")
    with serve_directory(tmp_path) as base:
        port = int(base.rstrip("/").rsplit(":", 1)[1])
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(b"GET /big.bin HTTP/1.0\r\n\r\n")
        assert client.recv(64).startswith(b"HTTP/1.0 200")
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # a reset, not a graceful close
        time.sleep(0.5)
        with urllib.request.urlopen(base + "page.html") as response:
            assert response.read() == b"<p>still served</p>"
    assert capfd.readouterr().err == ""
