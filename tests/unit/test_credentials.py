"""Store credentials come from ``[nvs_store_<name>]`` options, not from URLs."""
import base64
import logging
import subprocess
import sys
import urllib.parse

from oslo_config import cfg
import pytest

from nvs_notif import credentials
from nvs_notif import storage

PASSWORD = 'Pa55-w0rd-in-conf'
API_KEY = 'QXBpS2V5LWZyb20tY29uZg=='


def conf_of(tmp_path, text):
    path = tmp_path / 'nvs.conf'
    path.write_text(text)
    conf = cfg.ConfigOpts()
    conf([], default_config_files=[str(path)], default_config_dirs=[])
    return conf


def split(url, conf=None):
    return credentials.split(urllib.parse.urlsplit(url), conf)


def basic(user, password):
    return 'Basic ' + base64.b64encode(('%s:%s' % (user, password)).encode()).decode()


def test_default_group_serves_a_url_naming_none(tmp_path):
    conf = conf_of(tmp_path, '[nvs_store_default]\nusername = nvs\npassword = %s\n' % PASSWORD)
    url, creds = split('elasticsearch://es1:9200/?index_prefix=x', conf)
    assert (creds.username, creds.password, creds.api_key) == ('nvs', PASSWORD, None)
    assert urllib.parse.urlunsplit(url) == 'elasticsearch://es1:9200/?index_prefix=x'


def test_url_names_its_group_and_loses_the_reference(tmp_path):
    conf = conf_of(tmp_path, '[nvs_store_default]\nusername = other\n'
                             '[nvs_store_prod]\napi_key = %s\n' % API_KEY)
    url, creds = split('elasticsearch://es1:9200/?credentials=prod&index_prefix=x', conf)
    assert creds == credentials.Credentials(api_key=API_KEY)
    assert url.query == 'index_prefix=x'


def test_secrets_are_masked_when_oslo_logs_the_options(tmp_path, caplog):
    conf = conf_of(tmp_path, '[nvs_store_prod]\nusername = nvs\npassword = %s\n'
                             'api_key = %s\nclient_key = /etc/nvs/key.pem\n' % (PASSWORD, API_KEY))
    split('elasticsearch://es1:9200/?credentials=prod', conf)
    with caplog.at_level(logging.DEBUG):
        conf.log_opt_values(logging.getLogger('opts'), logging.DEBUG)
    assert 'nvs_store_prod.username' in caplog.text
    for secret in (PASSWORD, API_KEY, '/etc/nvs/key.pem'):
        assert secret not in caplog.text
    assert repr(split('elasticsearch://es1/?credentials=prod', conf)[1]).count(PASSWORD) == 0


def test_inline_credentials_work_with_a_warning_without_them(caplog):
    with caplog.at_level(logging.WARNING):
        url, creds = split('elasticsearch://ops%%40x:%s@es1:9200,es2:9200/?api_key=%s&refresh=true'
                           % (PASSWORD, urllib.parse.quote(API_KEY, safe='')))
    assert (creds.username, creds.password, creds.api_key) == ('ops@x', PASSWORD, API_KEY)
    assert urllib.parse.urlunsplit(url) == 'elasticsearch://es1:9200,es2:9200/?refresh=true'
    assert 'deprecated' in caplog.text and '[nvs_store_default]' in caplog.text
    assert 'es1:9200' in caplog.text
    assert PASSWORD not in caplog.text and API_KEY not in caplog.text
    assert 'ops@x' not in caplog.text


def test_configured_values_win_over_inline_ones(tmp_path):
    conf = conf_of(tmp_path, '[nvs_store_default]\npassword = %s\n' % PASSWORD)
    _, creds = split('elasticsearch://ops:old@es1:9200/', conf)
    assert (creds.username, creds.password) == ('ops', PASSWORD)


def test_no_credentials_anywhere(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        url, creds = split('elasticsearch://es1:9200/?index_prefix=x', conf_of(tmp_path, ''))
    assert creds == credentials.Credentials()
    assert caplog.text == ''


def test_a_missing_named_group_is_reported(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        _, creds = split('elasticsearch://es1:9200/?credentials=prd', conf_of(tmp_path, ''))
    assert creds == credentials.Credentials()
    assert '[nvs_store_prd]' in caplog.text


@pytest.mark.parametrize('name', ['', 'a-b', 'x]y', '../etc'])
def test_group_names_are_checked(name):
    with pytest.raises(ValueError, match='credentials'):
        split('elasticsearch://es1/?credentials=%s' % urllib.parse.quote(name))


def test_store_authenticates_with_the_configured_credentials(tmp_path):
    conf = conf_of(tmp_path, '[nvs_store_prod]\nusername = nvs\npassword = %s\n' % PASSWORD)
    store = storage.get_store('elasticsearch://es1:9200/?credentials=prod&index_prefix=p', conf)
    try:
        assert store.client._headers['authorization'] == basic('nvs', PASSWORD)
        assert store.prefix == 'p'
        assert PASSWORD not in urllib.parse.urlunsplit(store.url)
    finally:
        store.close()


def test_sqlite_store_takes_no_credentials_from_its_url(tmp_path):
    store = storage.get_store('sqlite:///%s' % (tmp_path / 'nvs.db'))
    try:
        assert store.credentials == credentials.Credentials()
    finally:
        store.close()


def test_generator_lists_the_credentials_group():
    out = subprocess.run([sys.executable, '-m', 'oslo_config.generator', '--namespace',
                          'nvs_notif'], capture_output=True, text=True, check=True).stdout
    section = out.split('[nvs_store_default]', 1)[1]
    for name in ('username', 'password', 'api_key', 'client_cert', 'client_key'):
        assert '#%s = <None>' % name in section


@pytest.mark.parametrize('url, shown', [
    ('elasticsearch://ops:%s@es1:9200/?index_prefix=x' % PASSWORD,
     'elasticsearch://es1:9200/?index_prefix=x'),
    ('elasticsearch://es1:9200/?api_key=%s&credentials=prod' % API_KEY,
     'elasticsearch://es1:9200/'),
    ('elasticsearch://es1:9200/?credentials=prod', 'elasticsearch://es1:9200/?credentials=prod'),
    ('sqlite:////var/lib/nvs/nvs.db', 'sqlite:////var/lib/nvs/nvs.db'),
])
def test_public_url_shows_no_inline_credentials(url, shown):
    assert credentials.public(url) == shown
