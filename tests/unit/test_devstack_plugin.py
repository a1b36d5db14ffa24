"""devstack/plugin.sh run by bash against stand-ins of devstack's functions
(no devstack in CI; tools/check-devstack.sh runs it through a real devstack
checkout): the files it writes configure a real NvsPipelineManager."""
import base64
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from nvs_notif import pipeline
from nvs_notif import replay
from nvs_notif import storage
from nvs_notif.cli import common
from tools.check_devstack_files import mode, options

ROOT = pathlib.Path(__file__).resolve().parents[2]
INI = pathlib.Path(__file__).with_name('devstack_ini.py')
PASSWORD = 'Pl4in-Pa55-in-devstack'
API_KEY = 'QXBpS2V5LWluLWRldnN0YWNr'

# What stack.sh provides the plugin (functions, inc/ini-config); sudo and
# install run as the test's user.
FAKES = '''
declare -A -g PROJECT_VENV
PROJECT_VENV[ceilometer]=$DEST/ceilometer.venv
function define_plugin {{ :; }}
function plugin_requires {{ :; }}
function is_service_enabled {{
    local s; for s in "$@"; do [[ ,$ENABLED_SERVICES, == *,$s,* ]] && return 0; done; return 1
}}
function echo_summary {{ echo "summary: $*"; }}
function die {{ echo "die: $*" >&2; exit 1; }}
function setup_develop {{ echo "setup_develop $* venv=${{PIP_VIRTUAL_ENV:-}}" >> "$CALLS"; }}
function sudo {{ "$@"; }}
function iniset {{ "{python}" "{ini}" set "$@"; }}
function iniset_multiline {{ "{python}" "{ini}" set "$@"; }}
function iniget_multiline {{ "{python}" "{ini}" get "$@"; }}
function inidelete {{ "{python}" "{ini}" del "$@"; }}
# lib/keystone, lib/apache and functions-common: recorded (tools/check-devstack.sh
# runs the real ones); the uWSGI file gets the module line the real one writes.
function _record {{ echo "$*" >> "$CALLS"; }}
function create_service_user {{ _record create_service_user "$@"; }}
function get_or_create_service {{ _record get_or_create_service "$@"; }}
function get_or_create_endpoint {{ _record get_or_create_endpoint "$@"; }}
function openstack {{ _record openstack "$@"; }}
function configure_keystone_authtoken_middleware {{
    _record configure_keystone_authtoken_middleware "$@"
}}
function write_uwsgi_config {{ _record write_uwsgi_config "$@"; iniset "$1" uwsgi module "$2"; }}
function remove_uwsgi_config {{ _record remove_uwsgi_config "$@"; rm -f "$1"; }}
function run_process {{ _record run_process "$@"; }}
function stop_process {{ _record stop_process "$@"; }}
function enable_service {{ ENABLED_SERVICES+=,$1; }}
function get_python_exec_prefix {{ echo /usr/local/bin; }}
'''.format(python=sys.executable, ini=INI)

CEILOMETER_CONF = '[DEFAULT]\ndebug = True\ntransport_url = rabbit://x\n'


@pytest.fixture
def devstack(tmp_path):
    conf_dir = tmp_path / 'etc-ceilometer'
    conf_dir.mkdir()
    (conf_dir / 'ceilometer.conf').write_text(CEILOMETER_CONF)
    env = dict(os.environ, DEST=str(tmp_path / 'opt'), DATA_DIR=str(tmp_path / 'data'),
               STACK_USER=str(os.getuid()), CEILOMETER_CONF_DIR=str(conf_dir),
               SERVICE_PROTOCOL='http', SERVICE_HOST='192.0.2.10', REGION_NAME='RegionOne',
               KEYSTONE_SERVICE_URI='http://192.0.2.10/identity', SERVICE_PASSWORD='service-secret',
               SERVICE_DOMAIN_NAME='Default', SERVICE_PROJECT_NAME='service',
               NVS_NOTIF_CONF_DIR=str(tmp_path / 'etc-nvs'), CALLS=str(tmp_path / 'calls'),
               ENABLED_SERVICES='ceilometer-acentral,ceilometer-anotification')

    def run(*phase, **settings):
        script = FAKES + 'source "%s/devstack/settings"\nsource "%s/devstack/plugin.sh" %s\n' % (
            ROOT, ROOT, ' '.join(phase))
        return subprocess.run(['bash', '-c', script], env=dict(env, **settings),
                              capture_output=True, text=True)
    run.tmp = tmp_path
    run.conf_dir = conf_dir
    run.ceilometer_conf = conf_dir / 'ceilometer.conf'
    return run


def _agent_conf(conf_dir):
    return replay.make_conf([str(conf_dir / 'ceilometer.conf')])




def test_install_sets_up_the_checkout_where_ceilometer_is(devstack):
    done = devstack('stack', 'install')
    assert done.returncode == 0, done.stderr
    done = devstack('stack', 'install', USE_VENV='True')
    assert done.returncode == 0, done.stderr
    assert (devstack.tmp / 'calls').read_text().splitlines() == [
        'setup_develop %s venv=' % ROOT,
        'setup_develop %s venv=%s' % (ROOT, devstack.tmp / 'opt/ceilometer.venv')]


def test_nothing_happens_without_the_notification_agent(devstack):
    for phase in (('stack', 'install'), ('stack', 'post-config'), ('clean',)):
        done = devstack(*phase, ENABLED_SERVICES='ceilometer-acompute')
        assert done.returncode == 0, done.stderr
    assert not (devstack.tmp / 'calls').exists()
    assert devstack.ceilometer_conf.read_text() == CEILOMETER_CONF
    assert not (devstack.conf_dir / 'nvs_pipeline.yaml').exists()


def test_post_config_loads_the_nvs_pipeline_into_the_agent(devstack):
    done = devstack('stack', 'post-config')
    assert done.returncode == 0, done.stderr
    conf = _agent_conf(devstack.conf_dir)
    assert conf.notification.pipelines == ['meter', 'event', 'nvs']
    assert conf.notification.batch_size == 500
    assert conf.nvs.pipeline_cfg_file == str(devstack.conf_dir / 'nvs_pipeline.yaml')
    assert conf.nvs.spool_dir == str(devstack.tmp / 'data/nvs-notif/spool')
    assert 'rabbit_qos_prefetch_count = 2000' in devstack.ceilometer_conf.read_text()
    # The agent's manager loads the store publisher the files name.
    manager = pipeline.NvsPipelineManager(conf)
    assert manager.unloaded_publishers == []
    store = manager.pipelines[0].publishers[0].store
    db = devstack.tmp / 'data/nvs-notif/nvs.db'
    assert os.path.samefile(store.url.path, db)
    store.close()
    # Data is the stack user's only.
    assert mode(db) == 0o600
    assert mode(db.parent) == mode(db.parent / 'spool') == 0o700


def test_post_config_keeps_other_pipelines_and_runs_twice(devstack):
    devstack.ceilometer_conf.write_text('[notification]\npipelines = event\nworkers = 3\n')
    for _ in range(2):
        done = devstack('stack', 'post-config', NVS_NOTIF_BATCH_SIZE='250')
        assert done.returncode == 0, done.stderr
    conf = _agent_conf(devstack.conf_dir)
    assert conf.notification.pipelines == ['event', 'nvs']
    assert conf.notification.workers == 3
    assert conf.notification.batch_size == 250
    assert 'rabbit_qos_prefetch_count = 1000' in devstack.ceilometer_conf.read_text()


def test_credentials_reach_the_agent_and_the_command_not_the_trace(devstack):
    url = "elasticsearch://es1:9200,es2:9200/?index_prefix=nvs&refresh=false#'x"
    done = devstack('stack', 'post-config', NVS_NOTIF_STORE_URL=url,
                    NVS_NOTIF_STORE_USERNAME='nvs', NVS_NOTIF_STORE_PASSWORD=PASSWORD)
    assert done.returncode == 0, done.stderr
    assert '+ iniset' in done.stderr                # the plugin traces its commands ...
    assert PASSWORD not in done.stderr + done.stdout     # ... but never the password
    pipeline_file = devstack.conf_dir / 'nvs_pipeline.yaml'
    sinks = yaml.safe_load(pipeline_file.read_text())['sinks']
    assert sinks[0]['publishers'] == [url]
    assert PASSWORD not in pipeline_file.read_text()
    cli_conf = devstack.tmp / 'etc-nvs/nvs-notif.conf'
    for path in (pipeline_file, cli_conf, devstack.ceilometer_conf):
        assert mode(path) == 0o600, path
    expected = 'Basic ' + base64.b64encode(('nvs:' + PASSWORD).encode()).decode()
    # The agent's publisher and the command open the store with them.
    manager = pipeline.NvsPipelineManager(_agent_conf(devstack.conf_dir))
    store = manager.pipelines[0].publishers[0].store
    assert store.client._headers['authorization'] == expected
    store.close()
    conf = common.load_conf([str(cli_conf)])
    assert conf.cli.store == url
    store = storage.get_store(conf.cli.store, conf)
    assert store.client._headers['authorization'] == expected
    store.close()


def test_an_api_key_replaces_a_password_set_before(devstack):
    assert devstack('stack', 'post-config', NVS_NOTIF_STORE_USERNAME='nvs',
                    NVS_NOTIF_STORE_PASSWORD=PASSWORD).returncode == 0
    done = devstack('stack', 'post-config', NVS_NOTIF_STORE_API_KEY=API_KEY)
    assert done.returncode == 0, done.stderr
    assert API_KEY not in done.stderr + done.stdout
    group = options(devstack.ceilometer_conf)['nvs_store_default']
    assert group == {'api_key': API_KEY}


def test_a_url_with_credentials_is_refused_without_echoing_them(devstack):
    done = devstack('stack', 'post-config',
                    NVS_NOTIF_STORE_URL='elasticsearch://nvs:%s@es1:9200/' % PASSWORD)
    assert done.returncode != 0
    assert 'NVS_NOTIF_STORE_PASSWORD' in done.stderr
    assert PASSWORD not in done.stderr.split('die:')[1]
    assert not (devstack.conf_dir / 'nvs_pipeline.yaml').exists()


def test_post_config_needs_ceilometer_configured_first(devstack):
    devstack.ceilometer_conf.unlink()
    done = devstack('stack', 'post-config')
    assert done.returncode != 0
    assert 'after enable_plugin ceilometer' in done.stderr


@pytest.mark.parametrize('before', [CEILOMETER_CONF,
                                    '[notification]\npipelines = event\npipelines = meter\n'
                                    'workers = 3\n'])
def test_clean_removes_what_post_config_made(devstack, before):
    devstack.ceilometer_conf.write_text(before)
    (devstack.tmp / 'before.conf').write_text(before)
    assert devstack('stack', 'post-config', NVS_NOTIF_STORE_USERNAME='nvs',
                    NVS_NOTIF_STORE_PASSWORD=PASSWORD).returncode == 0
    assert devstack('stack', 'post-config').returncode == 0
    assert devstack('clean').returncode == 0
    assert options(devstack.ceilometer_conf) == options(devstack.tmp / 'before.conf')
    assert not (devstack.conf_dir / 'nvs_pipeline.yaml').exists()
    assert not (devstack.tmp / 'data/nvs-notif').exists()
    assert not (devstack.tmp / 'etc-nvs').exists()


API_SERVICES = 'ceilometer-anotification,nvs-notif-api'


def _calls(devstack):
    path = devstack.tmp / 'calls'
    return path.read_text().splitlines() if path.exists() else []


def test_api_hooks_are_off_by_default(devstack):
    for phase in (('stack', 'install'), ('stack', 'post-config'), ('stack', 'extra'),
                  ('unstack',), ('clean',)):
        done = devstack(*phase)
        assert done.returncode == 0, done.stderr
    assert not [c for c in _calls(devstack) if 'nvs-notif-api' in c or 'keystone' in c
                or c.startswith(('create_service_user', 'get_or_create', 'openstack'))]
    assert not (devstack.tmp / 'etc-nvs/nvs-notif-api.conf').exists()


def test_api_needs_the_api_in_the_checkout(devstack):
    done = devstack('stack', 'post-config', ENABLED_SERVICES=API_SERVICES,
                    NVS_NOTIF_API_WSGI='nvs_notif.no_api.wsgi:application')
    assert done.returncode != 0
    assert 'nvs-notif-api is enabled but nvs_notif.no_api.wsgi:application' in done.stderr


@pytest.mark.parametrize('use_venv', ['False', 'True'])
def test_api_post_config_registers_the_service_and_writes_its_files(devstack, use_venv):
    url = 'elasticsearch://es1:9200/?index_prefix=nvs'
    done = devstack('stack', 'post-config', ENABLED_SERVICES=API_SERVICES, USE_VENV=use_venv,
                    NVS_NOTIF_STORE_URL=url, NVS_NOTIF_STORE_USERNAME='nvs',
                    NVS_NOTIF_STORE_PASSWORD=PASSWORD)
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    conf = devstack.tmp / 'etc-nvs/nvs-notif-api.conf'
    ini = devstack.tmp / 'etc-nvs/nvs-notif-api-uwsgi.ini'
    assert [c for c in _calls(devstack) if not c.startswith('setup_develop')] == [
        'configure_keystone_authtoken_middleware %s nvs-notif keystone_authtoken '
        'notification-analytics' % conf,
        'write_uwsgi_config %s nvs_notif.api.wsgi:application /nvs-notif  nvs-notif-api' % ini,
        'create_service_user nvs-notif',
        'openstack --os-cloud devstack-system-admin role add --user nvs-notif '
        '--user-domain Default --system all reader',
        'get_or_create_service nvs-notif notification-analytics nvs-notif notification analytics',
        'get_or_create_endpoint notification-analytics RegionOne http://192.0.2.10/nvs-notif']
    uwsgi = options(ini)['uwsgi']
    assert uwsgi['module'] == 'nvs_notif.api.wsgi:application'
    assert uwsgi['env'] == 'NVS_NOTIF_API_CONFIG_FILES=%s' % conf
    assert uwsgi.get('venv') == (str(devstack.tmp / 'opt/ceilometer.venv')
                                 if use_venv == 'True' else None)
    written = options(conf)
    assert written['api'] == {'store': url}
    # The hub confirms a project's state with Keystone as the service user.
    assert written['keystone'] == {
        'auth_type': 'password', 'auth_url': 'http://192.0.2.10/identity',
        'username': 'nvs-notif', 'password': 'service-secret',
        'user_domain_name': 'Default', 'system_scope': 'all', 'region_name': 'RegionOne'}
    assert 'service-secret' not in done.stderr + done.stdout
    assert written['nvs_store_default'] == {'username': 'nvs', 'password': PASSWORD}
    assert mode(conf) == 0o600 and mode(conf.parent) == 0o700


def test_api_runs_under_uwsgi_with_its_file_and_stops(devstack):
    for phase in (('stack', 'extra'), ('unstack',)):
        done = devstack(*phase, ENABLED_SERVICES=API_SERVICES)
        assert done.returncode == 0, done.stderr
    started, hub, stopped_hub, stopped = _calls(devstack)
    assert started.startswith('run_process nvs-notif-api ')
    # "$(which uwsgi) --procname-prefix ...": devstack installs uwsgi, CI has none.
    assert started.endswith(' --procname-prefix nvs-notif-api --ini %s'
                            % (devstack.tmp / 'etc-nvs/nvs-notif-api-uwsgi.ini'))
    # The hub's process with the API's file, from where the plugin installed it.
    assert hub == 'run_process nvs-notif-hub /usr/local/bin/nvs-notif-hub --config-file %s' % (
        devstack.tmp / 'etc-nvs/nvs-notif-api.conf')
    assert (stopped_hub, stopped) == ('stop_process nvs-notif-hub', 'stop_process nvs-notif-api')


def test_clean_removes_the_api_files(devstack):
    assert devstack('stack', 'post-config', ENABLED_SERVICES=API_SERVICES).returncode == 0
    done = devstack('clean', ENABLED_SERVICES=API_SERVICES)
    assert done.returncode == 0, done.stderr
    assert 'remove_uwsgi_config %s nvs-notif-api' % (
        devstack.tmp / 'etc-nvs/nvs-notif-api-uwsgi.ini') in _calls(devstack)
    assert not (devstack.tmp / 'etc-nvs').exists()
