"""The policy in code reaches oslo.policy's tools through the entry points,
and the shipped samples are what the generators write."""
import os
import pathlib
import subprocess
import sys

from nvs_notif.api import policies

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent


def run(tool, *args, env=None):
    done = subprocess.run([str(BIN / tool), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_sample_generator_lists_every_rule_and_the_shipped_sample_is_its_output(tmp_path):
    out = tmp_path / 'policy.yaml'
    run('oslopolicy-sample-generator', '--namespace', 'nvs_notif', '--output-file', str(out))
    text = out.read_text()
    for rule in policies.list_rules():
        assert '#"%s": "%s"' % (rule.name, rule.check_str) in text
    assert text == (ROOT / 'etc/policy.yaml.sample').read_text()


def test_the_policy_generator_finds_the_enforcer(tmp_path):
    conf = tmp_path / 'nvs-notif.conf'
    conf.write_text('[api]\n')
    text = run('oslopolicy-policy-generator', '--namespace', 'nvs_notif',
               env=dict(os.environ, NVS_NOTIF_API_CONFIG_FILES=str(conf)))
    assert '"nvs:all_projects": "rule:admin_api"' in text


def test_the_api_config_sample_is_the_generators_output(tmp_path):
    out = tmp_path / 'api.conf'
    run('oslo-config-generator', '--config-file',
        'etc/oslo-config-generator/nvs-notif-api.conf', '--output-file', str(out))
    text = out.read_text()
    assert '[api]' in text and '[keystone_authtoken]' in text and '[cors]' in text
    assert text == (ROOT / 'etc/nvs-notif-api.conf.sample').read_text()


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _reader_of(project):
    from oslo_context import context
    return context.RequestContext(user_id='u', project_id=project, roles=['reader'])


def test_the_enforcer_reads_a_changed_policy_file_once_its_interval_passed(tmp_path):
    from nvs_notif.api import config
    policy_file = tmp_path / 'policy.yaml'
    policy_file.write_text('"nvs:sla:get": "role:admin"\n')
    conf_file = tmp_path / 'nvs-notif.conf'
    conf_file.write_text('[oslo_policy]\npolicy_file = %s\n' % policy_file)
    clock = Clock()
    enforcer = policies.Enforcer(config.load_conf([str(conf_file)]), reload_interval=5,
                                 clock=clock)
    enforcer.register_defaults(policies.list_rules())
    reader, target = _reader_of('p1'), {'project_id': 'p1'}
    assert not enforcer.authorize('nvs:sla:get', target, reader)     # the file's rule
    assert enforcer.authorize('nvs:history:get', target, reader)     # a default
    policy_file.write_text('"nvs:sla:get": "rule:project_reader_or_admin"\n')
    later = os.stat(policy_file).st_mtime + 10
    os.utime(policy_file, (later, later))
    clock.now += 4.9
    assert not enforcer.authorize('nvs:sla:get', target, reader)     # not looked at yet
    clock.now += 0.2
    assert enforcer.authorize('nvs:sla:get', target, reader)         # reloaded
    assert not enforcer.authorize('nvs:sla:get', {'project_id': 'p2'}, reader)


def test_the_enforcer_looks_for_policy_files_once_per_interval(tmp_path, monkeypatch):
    from nvs_notif.api import config
    clock = Clock()
    enforcer = policies.Enforcer(config.load_conf([]), reload_interval=1, clock=clock)
    enforcer.register_defaults(policies.list_rules())
    looked = []
    real = enforcer._get_policy_path
    monkeypatch.setattr(enforcer, '_get_policy_path', lambda p: looked.append(p) or real(p))
    reader, target = _reader_of('p1'), {'project_id': 'p1'}
    for _ in range(3):
        assert enforcer.authorize('nvs:traces:get', target, reader)
    first = len(looked)
    assert first >= 1                       # the first check loads the rules
    for _ in range(20):
        assert enforcer.authorize('nvs:traces:get', target, reader)
    assert len(looked) == first
    clock.now += 1
    assert enforcer.authorize('nvs:traces:get', target, reader)
    assert len(looked) > first
    second = len(looked)
    enforcer.load_rules(force_reload=True)  # a forced reload looks at once
    assert len(looked) > second
    assert not enforcer.authorize('nvs:traces:get', {'project_id': 'p2'}, reader)
