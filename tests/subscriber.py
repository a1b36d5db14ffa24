"""A WebSub subscriber for the tests: a real HTTP server on a loopback
address (a thread with http.server) that records what the hub sends."""
import http.server
import threading
import time
import urllib.parse

import pytest


class Subscriber:
    """A callback server: answers verifications (echoing hub.challenge when
    ``accept``), records every request, answers POSTs with ``statuses``
    (then 204)."""

    def __init__(self, host='127.0.0.1', port=0, accept=True):
        self.accept = accept
        self.gets, self.posts, self.statuses = [], [], []
        self.redirect_to = None
        self.delay = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                owner.gets.append(query)
                if owner.redirect_to:
                    self.send_response(302)
                    self.send_header('Location', '%s&%s' % (
                        owner.redirect_to, urllib.parse.urlsplit(self.path).query))
                    self.end_headers()
                    return
                body = query.get('hub.challenge', '').encode() if owner.accept else b'no'
                self.send_response(200 if owner.accept or 'hub.challenge' not in query else 404)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers['Content-Length']))
                time.sleep(owner.delay)
                owner.posts.append((dict(self.headers), body))
                status = owner.statuses.pop(0) if owner.statuses else 204
                self.send_response(status)
                self.send_header('Content-Length', '0')
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.port = self.server.server_address[1]
        self.url = 'http://%s:%d/cb?client=7' % (host, self.port)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def subscribers():
    made = []

    def make(**kwargs):
        made.append(Subscriber(**kwargs))
        return made[-1]
    yield make
    for s in made:
        s.stop()
