"""The download reference of bench/load.sh: a minimal threaded HTTP server
that answers every GET with one file through os.sendfile (zero copy).

    python3 bench/sendfile_server.py PORT FILE
"""
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH = sys.argv[2]
SIZE = os.path.getsize(PATH)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(SIZE))
        self.end_headers()
        with open(PATH, "rb") as f:
            offset = 0
            while offset < SIZE:
                offset += os.sendfile(self.wfile.fileno(), f.fileno(), offset, SIZE - offset)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
