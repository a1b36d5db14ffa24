"""The checks of tools/check-devstack.sh on one run's scratch directory ($RUN).

    python -m tools.check_devstack_files stacked   after post-config (twice) and extra
    python -m tools.check_devstack_files cleaned   after our clean, then run_phase clean
    python -m tools.check_devstack_files trace     the whole xtrace of the run

Exits non-zero with the failed checks on stderr.
"""
import base64
import configparser
import os
import pathlib
import stat
import subprocess
import sys

# The run's layout (tools/check-devstack.sh's local.conf); '' when imported
# for mode() and options() only.
RUN = pathlib.Path(os.environ.get('RUN', ''))
DEST = RUN / 'opt'
CONF_DIR = RUN / 'etc/ceilometer'
NVS_CONF_DIR = RUN / 'etc/nvs-notif'
DATA_DIR = RUN / 'data/nvs-notif'
PASSWORD = os.environ.get('NVS_NOTIF_STORE_PASSWORD')
FAILED = []


def check(ok, what):
    print('%s %s' % ('ok  ' if ok else 'FAIL', what))
    if not ok:
        FAILED.append(what)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def options(path):
    """``{section: {option: value}}`` of an ini file, empty sections left out."""
    # No default section: [DEFAULT] is read as a section of its own.
    parser = configparser.RawConfigParser(strict=False, default_section=None)
    parser.read(path)
    return {s: dict(parser[s]) for s in parser.sections() if parser[s]}


def calls():
    return (RUN / 'calls').read_text().splitlines()


def installs():
    """{project checkout: the venv pip_install was given} of the recorded calls."""
    found = {}
    for line in calls():
        if line.startswith('pip_install ') and ' -e ' in line:
            venv = line.split()[1].split('=', 1)[1]
            found[line.rsplit(' ', 1)[1]] = venv
    return found


def stacked():
    from nvs_notif.cli import common
    from nvs_notif import replay
    from nvs_notif import storage
    from stevedore import named

    venv = str(DEST / 'ceilometer.venv') if os.environ['USE_VENV'] == 'True' else ''
    done = installs()
    check(done.get(str(DEST / 'ceilometer')) == venv, 'ceilometer installed into %r' % venv)
    check(done.get(str(DEST / 'nvs-notif')) == venv, 'nvs-notif installed where ceilometer is')
    agent = [c for c in calls() if c.startswith('run_process ceilometer-anotification ')]
    check(len(agent) == 1 and '--config-file %s' % (CONF_DIR / 'ceilometer.conf') in agent[0],
          'ceilometer starts its agent with the ceilometer.conf we edited')

    conf_file = CONF_DIR / 'ceilometer.conf'
    check(conf_file.read_text() == (RUN / 'ceilometer.conf.first').read_text(),
          'a second post-config changes nothing')
    conf = replay.make_conf([str(conf_file)])
    check(conf.notification.pipelines == ['meter', 'event', 'nvs'],
          'pipelines keep meter and event and add nvs: %s' % conf.notification.pipelines)
    missing = []
    # The agent's own loader (ceilometer/notification.py, NotificationService.run).
    managers = {ext.name: ext.obj for ext in named.NamedExtensionManager(
        namespace='ceilometer.notification.pipeline', names=conf.notification.pipelines,
        invoke_on_load=True, on_missing_entrypoints_callback=missing.extend,
        invoke_args=(conf,))}
    check(not missing and sorted(managers) == ['event', 'meter', 'nvs'],
          'the agent loads the meter, event and nvs managers')
    nvs = managers['nvs']
    check(nvs.unloaded_publishers == [], 'every nvs publisher loads')
    expected = 'Basic ' + base64.b64encode(('nvs:' + PASSWORD).encode()).decode()
    store = nvs.pipelines[0].publishers[0].store
    check(store.client._headers.get('authorization') == expected,
          "the agent's store authenticates with NVS_NOTIF_STORE_USERNAME/PASSWORD")
    store.close()
    cli = common.load_conf([str(NVS_CONF_DIR / 'nvs-notif.conf')])
    store = storage.get_store(cli.cli.store, cli)
    check(store.client._headers.get('authorization') == expected,
          'the nvs-notif command reads the same store with the same credentials')
    store.close()
    for path in (conf_file, CONF_DIR / 'nvs_pipeline.yaml', NVS_CONF_DIR / 'nvs-notif.conf'):
        check(mode(path) == 0o600, '%s is 600: %o' % (path.name, mode(path)))
    check(PASSWORD not in (CONF_DIR / 'nvs_pipeline.yaml').read_text(),
          'the pipeline file (logged by the agent) holds no password')
    for path in (NVS_CONF_DIR, DATA_DIR, DATA_DIR / 'spool'):
        check(mode(path) == 0o700, '%s is 700: %o' % (path, mode(path)))
    api(venv)


def api(venv):
    """nvs-notif-api: Keystone's records, the uWSGI file, the process, the app."""
    done = calls()
    for call in ('create_service_user nvs-notif',
                 'get_or_create_service nvs-notif notification-analytics '
                 'nvs-notif notification analytics',
                 'get_or_create_endpoint notification-analytics RegionOne '
                 'http://127.0.0.1/nvs-notif',
                 'openstack --os-cloud devstack-system-admin role add --user nvs-notif '
                 '--user-domain Default --system all reader'):
        check(call in done, 'keystone: %s' % call)
    conf_file = NVS_CONF_DIR / 'nvs-notif-api.conf'
    check(mode(conf_file) == 0o600, '%s is 600: %o' % (conf_file.name, mode(conf_file)))
    ini_file = NVS_CONF_DIR / 'nvs-notif-api-uwsgi.ini'
    ini = options(ini_file).get('uwsgi', {})
    check(ini.get('module') == 'nvs_notif.api.wsgi:application',
          "uWSGI loads the API's module: %s" % ini.get('module'))
    check(ini.get('env') == 'NVS_NOTIF_API_CONFIG_FILES=%s' % conf_file,
          'uWSGI gives the API its config file: %s' % ini.get('env'))
    check(ini.get('venv', '') == venv, 'uWSGI runs in %r: %r' % (venv, ini.get('venv')))
    site = (RUN / 'apache-sites/nvs-notif-api.conf').read_text()
    check('ProxyPass "/nvs-notif" "unix:%s|' % ini.get('socket') in site,
          "Apache proxies /nvs-notif to uWSGI's socket")
    started = [c for c in done if c.startswith('run_process nvs-notif-api ')]
    check(len(started) == 1 and started[0].endswith(
        ' --procname-prefix nvs-notif-api --ini %s' % ini_file),
        'run_process starts uWSGI with that file: %s' % started)
    auth = options(conf_file).get('keystone_authtoken', {})
    seen = {k: auth.get(k) for k in ('auth_type', 'interface', 'username', 'project_name',
                                      'auth_url', 'www_authenticate_uri', 'service_type')}
    check(seen == {'auth_type': 'password', 'interface': 'public', 'username': 'nvs-notif',
                   'project_name': 'service', 'auth_url': 'http://127.0.0.1/identity',
                   'www_authenticate_uri': 'http://127.0.0.1/identity',
                   'service_type': 'notification-analytics'}
          and auth.get('password') == os.environ['SERVICE_PASSWORD'],
          "[keystone_authtoken] is the service user's: %s" % seen)
    check(options(conf_file).get('api', {}).get('store')
          == 'elasticsearch://es1:9200,es2:9200/?index_prefix=nvs', '[api] store is set')
    # The entry point uWSGI imports, with the environment the file gives it.
    name, value = ini.get('env', '=').split('=', 1)
    built = subprocess.run(
        [sys.executable, '-c', 'import nvs_notif.api.wsgi as w; print(callable(w.application))'],
        env=dict(os.environ, **{name: value}), capture_output=True, text=True)
    check(built.stdout.strip() == 'True',
          'the entry point builds the app from the file: %s' % built.stderr[-300:])


def cleaned():
    check(options(RUN / 'ceilometer.conf.cleaned') == options(RUN / 'ceilometer.conf.ceilometer-only'),
          'our clean puts ceilometer.conf back as ceilometer wrote it')
    for path in (NVS_CONF_DIR, DATA_DIR, CONF_DIR / 'nvs_pipeline.yaml'):
        check(not path.exists(), 'clean removed %s' % path)
    check('disable_apache_site nvs-notif-api' in calls(), "clean disabled the API's Apache site")


def trace():
    text = (RUN / 'trace').read_text(errors='replace')
    check(':configure_nvs_notif:' in text and ':_nvs_notif_set_credentials:' in text,
          'the trace covers our phases')
    check(PASSWORD not in text, 'the trace holds no password')


if __name__ == '__main__':
    {'stacked': stacked, 'cleaned': cleaned, 'trace': trace}[sys.argv[1]]()
    if FAILED:
        sys.exit('check-devstack: %d checks failed' % len(FAILED))
