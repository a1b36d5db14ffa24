"""``nvs-notif-api``: the API on a small threaded HTTP server of the standard
library, for trials and tests. Production runs ``nvs_notif.api.wsgi:application``
under gunicorn or uWSGI (docs/operations.rst)."""
import argparse
import socketserver
from wsgiref import simple_server


class ThreadingWSGIServer(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True


def make_server(app, host, port):
    """A threaded wsgiref server of ``app`` (port 0: any free port)."""
    return simple_server.make_server(host, port, app, server_class=ThreadingWSGIServer)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='nvs-notif-api', description=__doc__)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=8779)
    args = parser.parse_args(argv)
    # Imported here: the entry point reads the configuration when imported.
    from nvs_notif.api import wsgi
    with make_server(wsgi.application, args.host, args.port) as server:
        server.serve_forever()
