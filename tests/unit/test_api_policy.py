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
