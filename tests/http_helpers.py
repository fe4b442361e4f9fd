"""A tiny HTTP origin for the proxy tests: GET answers 200 with a body made from the request."""

from __future__ import annotations

import http.server
from collections.abc import Callable


def hello_handler(body: Callable[[http.server.BaseHTTPRequestHandler], str]) -> type:
    """A request handler class whose GET answers ``body(handler)``; it logs nothing."""

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            data = body(self).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Hello
