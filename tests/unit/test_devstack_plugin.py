"""devstack/plugin.sh run by bash against stand-ins of devstack's functions
(no devstack here): the files it writes configure a real NvsPipelineManager."""
import os
import pathlib
import stat
import subprocess
import sys

import pytest
import yaml

from nvs_notif import pipeline
from nvs_notif import replay
from nvs_notif.cli import common

ROOT = pathlib.Path(__file__).resolve().parents[2]
INI = pathlib.Path(__file__).with_name('devstack_ini.py')

# What stack.sh provides the plugin (functions, inc/ini-config); sudo and
# install run as the test's user.
FAKES = '''
function define_plugin {{ :; }}
function plugin_requires {{ :; }}
function echo_summary {{ echo "summary: $*"; }}
function die {{ echo "die: $*" >&2; exit 1; }}
function setup_develop {{ echo "setup_develop $*" >> "$CALLS"; }}
function sudo {{ "$@"; }}
function iniset {{ "{python}" "{ini}" set "$@"; }}
function iniset_multiline {{ "{python}" "{ini}" set "$@"; }}
function iniget_multiline {{ "{python}" "{ini}" get "$@"; }}
'''.format(python=sys.executable, ini=INI)


@pytest.fixture
def devstack(tmp_path):
    conf_dir = tmp_path / 'etc-ceilometer'
    conf_dir.mkdir()
    (conf_dir / 'ceilometer.conf').write_text('[DEFAULT]\ndebug = True\n')
    env = dict(os.environ, DEST=str(tmp_path / 'opt'), DATA_DIR=str(tmp_path / 'data'),
               STACK_USER=str(os.getuid()), CEILOMETER_CONF_DIR=str(conf_dir),
               NVS_NOTIF_DIR=str(ROOT), NVS_NOTIF_CONF_DIR=str(tmp_path / 'etc-nvs'),
               CALLS=str(tmp_path / 'calls'))

    def run(*phase, **settings):
        script = FAKES + 'source "%s/devstack/settings"\nsource "%s/devstack/plugin.sh" %s\n' % (
            ROOT, ROOT, ' '.join(phase))
        return subprocess.run(['bash', '-c', script], env=dict(env, **settings),
                              capture_output=True, text=True)
    run.tmp = tmp_path
    run.conf_dir = conf_dir
    return run


def _agent_conf(conf_dir):
    return replay.make_conf([str(conf_dir / 'ceilometer.conf')])


def test_install_sets_up_the_checkout(devstack):
    done = devstack('stack', 'install')
    assert done.returncode == 0, done.stderr
    assert (devstack.tmp / 'calls').read_text().split() == ['setup_develop', str(ROOT)]


def test_post_config_loads_the_nvs_pipeline_into_the_agent(devstack):
    done = devstack('stack', 'post-config')
    assert done.returncode == 0, done.stderr
    conf = _agent_conf(devstack.conf_dir)
    assert conf.notification.pipelines == ['meter', 'event', 'nvs']
    assert conf.notification.batch_size == 500
    assert conf.nvs.pipeline_cfg_file == str(devstack.conf_dir / 'nvs_pipeline.yaml')
    assert conf.nvs.spool_dir == str(devstack.tmp / 'data/nvs-notif/spool')
    assert 'rabbit_qos_prefetch_count = 2000' in (
        devstack.conf_dir / 'ceilometer.conf').read_text()
    # The agent's manager loads the store publisher the files name.
    manager = pipeline.NvsPipelineManager(conf)
    assert manager.unloaded_publishers == []
    store = manager.pipelines[0].publishers[0].store
    assert os.path.samefile(store.url.path, devstack.tmp / 'data/nvs-notif/nvs.db')
    store.close()


def test_post_config_keeps_other_pipelines_and_runs_twice(devstack):
    (devstack.conf_dir / 'ceilometer.conf').write_text(
        '[notification]\npipelines = event\nworkers = 3\n')
    for _ in range(2):
        done = devstack('stack', 'post-config', NVS_NOTIF_BATCH_SIZE='250')
        assert done.returncode == 0, done.stderr
    conf = _agent_conf(devstack.conf_dir)
    assert conf.notification.pipelines == ['event', 'nvs']
    assert conf.notification.workers == 3
    assert conf.notification.batch_size == 250
    assert 'rabbit_qos_prefetch_count = 1000' in (
        devstack.conf_dir / 'ceilometer.conf').read_text()


def test_store_url_is_kept_whole_and_out_of_the_trace(devstack):
    url = "elasticsearch://nvs:hunter2'#&x@es1:9200,es2:9200/?index_prefix=nvs&refresh=false"
    done = devstack('stack', 'post-config', NVS_NOTIF_STORE_URL=url)
    assert done.returncode == 0, done.stderr
    assert '+' in done.stderr               # the plugin traces its commands ...
    assert 'hunter2' not in done.stderr + done.stdout   # ... but never the URL
    pipeline_file = devstack.conf_dir / 'nvs_pipeline.yaml'
    sinks = yaml.safe_load(pipeline_file.read_text())['sinks']
    assert sinks[0]['publishers'] == [url]
    cli_conf = devstack.tmp / 'etc-nvs/nvs-notif.conf'
    for path in (pipeline_file, cli_conf):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert common.load_conf([str(cli_conf)]).cli.store == url


def test_post_config_needs_ceilometer_configured_first(devstack):
    (devstack.conf_dir / 'ceilometer.conf').unlink()
    done = devstack('stack', 'post-config')
    assert done.returncode != 0
    assert 'after enable_plugin ceilometer' in done.stderr


def test_clean_removes_what_post_config_made(devstack):
    assert devstack('stack', 'post-config').returncode == 0
    assert devstack('clean').returncode == 0
    assert not (devstack.conf_dir / 'nvs_pipeline.yaml').exists()
    assert not (devstack.tmp / 'data/nvs-notif').exists()
    assert not (devstack.tmp / 'etc-nvs').exists()
