"""Store credentials set in configuration files reach Elasticsearch and nothing else.

A real ``ceilometer-agent-notification`` at ``debug = true`` (ceilometer then
logs its pipeline files whole: ``Config file: ...``) publishes with
the nvs pipeline and the stock event pipeline to Elasticsearch through a
small recording proxy, with the credentials in ``[nvs_store_ops]`` and
``[nvs_store_default]`` of its configuration. The proxy proves the
credentials are sent; the log, the pipeline files and the process listing
must not hold them. The ``nvs-notif`` command does the same with those of
its own configuration file.
"""
import base64
import http.client
import http.server
import os
import pathlib
import subprocess
import sys
import threading
import urllib.parse
import uuid

import pytest

from tests.functional.support import ES_URL, es_count, wait_for

PASSWORD = 'nvs-Pa55-%s' % uuid.uuid4().hex[:8]
KEY = 'APIKEY-%s' % uuid.uuid4().hex[:8]
API_KEY = base64.b64encode(('key-id:' + KEY).encode()).decode()


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Forwards every request to Elasticsearch, keeping its Authorization header."""

    def _forward(self):
        self.server.authorizations.add(self.headers.get('Authorization'))
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        target = urllib.parse.urlsplit(ES_URL)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ('host', 'authorization', 'connection')}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        self.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in ('content-length', 'connection', 'transfer-encoding'):
                self.send_header(key, value)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

    def log_message(self, *args):
        pass


@pytest.fixture
def recording_proxy():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Recorder)
    server.authorizations = set()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _cmdlines(pid):
    """The command lines of ``pid`` and its descendants (the agent's workers)."""
    lines, pids = [], [pid]
    while pids:
        p = pids.pop()
        proc = pathlib.Path('/proc/%d' % p)
        try:
            lines.append((proc / 'cmdline').read_bytes().decode(errors='replace'))
            for task in (proc / 'task').iterdir():
                pids += [int(c) for c in (task / 'children').read_text().split()]
        except FileNotFoundError:
            continue
    return lines


def test_agent_uses_configured_credentials_and_logs_none(agent_factory, sender, es_client,
                                                         es_prefix, recording_proxy):
    proxy = '127.0.0.1:%d' % recording_proxy.server_address[1]
    nvs_url = 'elasticsearch://%s/?credentials=ops&index_prefix=%s' % (proxy, es_prefix)
    events_url = 'elasticsearch://%s/?index_prefix=%s' % (proxy, es_prefix)
    agent = agent_factory([nvs_url], pipelines=('nvs', 'event'), event_publishers=[events_url],
                          batch_size=5,
                          extra_conf='[DEFAULT]\ndebug = true\n'
                                     '[nvs_store_ops]\nusername = nvs\npassword = %s\n'
                                     '[nvs_store_default]\napi_key = %s\n' % (PASSWORD, API_KEY))
    for i in range(5):
        ctxt = {'request_id': 'req-%s' % uuid.uuid4(), 'project_id': 'p-cred',
                'user_id': 'u-cred'}
        sender.send('nova', 'compute.host-1', 'INFO', 'compute.instance.create.end',
                    {'instance_id': 'inst-cred-%d' % i, 'tenant_id': 'p-cred',
                     'state': 'active'}, ctxt)
    wait_for(lambda: (es_count(es_client, '%s-notifications' % es_prefix) >= 5
                      and es_count(es_client, '%s-events' % es_prefix) >= 5),
             timeout=120, what='5 notifications (nvs) and 5 events (stock) in ES')
    cmdlines = _cmdlines(agent.proc.pid)
    agent.stop()

    basic = 'Basic ' + base64.b64encode(('nvs:' + PASSWORD).encode()).decode()
    # Each store sent its own group's credentials, and nothing went unauthenticated.
    assert recording_proxy.authorizations == {basic, 'ApiKey ' + API_KEY}
    log = agent.log_text()
    # Ceilometer logged the pipeline files (with their store URLs) ...
    assert 'Config file:' in log and '?credentials=ops&' in log
    # ... with no secret in them, nor in the files or the process listing.
    pipelines = ''.join(p.read_text() for p in agent.workdir.glob('agent-*pipeline.yaml'))
    assert len(cmdlines) >= 2
    for where, text in (('agent log', log), ('pipeline files', pipelines),
                        ('process listing', '\n'.join(cmdlines))):
        for secret in (PASSWORD, KEY, API_KEY, basic.split()[1]):
            assert secret not in text, '%s holds a secret' % where


def test_command_uses_the_credentials_of_its_config_file(es_client, es_prefix,
                                                        recording_proxy, tmp_path):
    """``nvs-notif`` (the installed console script, a process of its own) writes
    and reads Elasticsearch with the credentials of its configuration file."""
    proxy = '127.0.0.1:%d' % recording_proxy.server_address[1]
    conf = tmp_path / 'nvs-notif.conf'
    conf.write_text('[cli]\nstore = elasticsearch://%s/?credentials=reader&index_prefix=%s'
                    '&refresh=wait_for\n[nvs_store_reader]\nusername = reader\npassword = %s\n'
                    % (proxy, es_prefix, PASSWORD))
    exe = pathlib.Path(sys.executable).with_name('nvs-notif')
    env = dict(os.environ)
    env.pop('NVS_NOTIF_STORE', None)
    for argv in (['replay', '--simulate', '300'], ['stuck', '-f', 'json']):
        done = subprocess.run([str(exe), '--config-file', str(conf)] + argv, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert PASSWORD not in done.stdout + done.stderr
    assert es_count(es_client, '%s-notifications' % es_prefix) > 0
    basic = 'Basic ' + base64.b64encode(('reader:' + PASSWORD).encode()).decode()
    assert recording_proxy.authorizations == {basic}
