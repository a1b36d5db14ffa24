"""nvs-notif-api under gunicorn, configured by the shipped sample
(etc/gunicorn.conf.py.sample: wsgi_app, workers and threads, the configuration
file through raw_env) with only its bind address and file path changed:
several workers answer real Keystone tokens for their project only."""
import pathlib
import socket
import subprocess
import sys
import time

import pytest
import requests

from tests.functional.support import ARTIFACTS
from tests.functional.support import ROOT
from tests.functional.support import write_api_conf
from tests.unit import api_support as s


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn_api(tmp_path, keystone, keystone_authtoken):
    projects = keystone.project_id('a-reader'), keystone.project_id('b-reader')
    url = 'sqlite:///%s' % (tmp_path / 'nvs.db')
    s.fill(url, project_a=projects[0], project_b=projects[1])
    conf_file = write_api_conf(tmp_path / 'nvs-notif.conf', url, keystone_authtoken)
    port = free_port()
    sample = (ROOT / 'etc/gunicorn.conf.py.sample').read_text()
    config = sample.replace("bind = ['127.0.0.1:8779']", "bind = ['127.0.0.1:%d']" % port)
    config = config.replace('/etc/nvs-notif/nvs-notif.conf', str(conf_file))
    assert config.count(str(port)) == 1 and config.count(str(conf_file)) == 1
    (tmp_path / 'gunicorn.conf.py').write_text(config)
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / 'api-gunicorn.log', 'w')
    proc = subprocess.Popen([str(pathlib.Path(sys.executable).parent / 'gunicorn'),
                             '--config', str(tmp_path / 'gunicorn.conf.py')],
                            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    base = 'http://127.0.0.1:%d' % port
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, (ARTIFACTS / 'api-gunicorn.log').read_text()[-3000:]
        try:
            if requests.get(base + '/healthcheck', timeout=5).status_code == 200:
                break
        except (requests.ConnectionError, requests.Timeout):
            pass        # not listening yet, or no worker booted yet
        assert time.monotonic() < deadline, 'gunicorn did not serve the API in 180 s'
        time.sleep(0.5)
    yield base, projects
    proc.terminate()
    proc.wait(timeout=60)
    log.close()


def test_gunicorn_workers_answer_each_project_its_own(gunicorn_api, keystone_tokens):
    base, (_, project_b) = gunicorn_api
    for _ in range(8):          # spread over the sample's workers and threads
        r = requests.get(base + '/v1/notifications', timeout=60,
                         headers={'X-Auth-Token': keystone_tokens['a-reader']})
        assert r.status_code == 200, r.text
        assert sorted(n['message_id'] for n in r.json()['notifications']) == [
            'msg-a-%02d' % n for n in range(1, 6)]
        assert not any(m in r.text for m in s.not_a(project_b))
    r = requests.get(base + '/v1/notifications', timeout=60,
                     headers={'X-Auth-Token': keystone_tokens['a-reader'][:-4] + 'AAAA'})
    assert r.status_code == 401
