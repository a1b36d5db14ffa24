"""Tests for nvs_notif.redact: every place OpenStack puts secrets is masked."""
import copy
import datetime
import itertools
import json
import pathlib
import re

import pytest

from nvs_notif import redact as redact_mod
from nvs_notif.redact import MASK, MAX_DEPTH, TRUNCATED, redact

try:
    from hypothesis import given, settings, strategies as st
except ImportError:  # pragma: no cover - the property test is optional
    given = None

FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'notifications'


def load(name):
    with open(FIXTURES / (name + '.json')) as f:
        return json.load(f)


@pytest.mark.parametrize('key', [
    '_context_auth_token', 'auth_token', 'X-Auth-Token', 'x_auth_token', 'X-Subject-Token',
    'X-Service-Token', 'token', 'admin_password', 'adminPass', 'password', 'PASSWORD',
    'new_password', 'original_password', 'passwd', 'db_passwd', 'secret', 'client_secret',
    'aws_secret_access_key', 'api_key', 'apiKey', 'private_key', 'ssh_private_key',
    'privateKey', 'credential', 'credentials', 'passwordCredentials', 'Authorization',
    'authorization', 'Cookie', 'Set-Cookie', 'signature', 'encryption_key', 'passphrase',
    '_context_auth_token_info', '_context_service_token', 'psk', 'pre_shared_key',
    'preSharedKey', 'snmp_auth_key', 'snmp_priv_key', 'snmp_community',
])
def test_secret_keys_masked(key):
    assert redact({key: 'value', 'other': 'keep'}) == {key: MASK, 'other': 'keep'}


@pytest.mark.parametrize('key', [
    'token_expires_at', 'password_expires_at', 'token_type', 'name', 'user_id',
    'display_name', 'key_name', 'public_key', 'fingerprint', 'host', 'state', 'passenger',
    'expires_at',
])
def test_harmless_keys_kept(key):
    assert redact({key: 'value'}) == {key: 'value'}


def test_secret_containers_masked_whole():
    value = {'auth': {'passwordCredentials': {'username': 'u', 'password': 'p'}},
             'credential': {'blob': '{"access": "a"}'}}
    assert redact(value) == {'auth': {'passwordCredentials': MASK}, 'credential': MASK}


def test_none_secret_values_kept():
    assert redact({'admin_password': None, 'password': ''}) == {
        'admin_password': None, 'password': MASK}


def test_extra_keys():
    value = {'vault_ref': 'x', 'Vault-Ref-2': 'y', 'name': 'n'}
    assert redact(value, extra_keys=('vault_ref',)) == {
        'vault_ref': MASK, 'Vault-Ref-2': MASK, 'name': 'n'}
    assert redact(value) == value


def test_context_auth_token_in_flat_and_dict_context():
    flat = load('legacy_nova_compute_instance_create_start')
    out = redact(flat)
    assert out['_context_auth_token'] == MASK
    assert out['_context_request_id'] == flat['_context_request_id']
    dispatched = load('dispatched_nova_instance_create_end')
    out = redact(dispatched)
    assert out['ctxt']['auth_token'] == MASK
    assert out['ctxt']['user_id'] == dispatched['ctxt']['user_id']


def test_versioned_payload_password():
    out = redact(load('versioned_nova_instance_create_start'))
    data = out['payload']['nova_object.data']
    assert data['password'] == MASK
    assert data['keypairs'][0]['nova_object.data']['public_key'].startswith('ssh-rsa')


@pytest.mark.parametrize('key', ['admin_password', 'adminPass'])
def test_legacy_payload_admin_password(key):
    message = load('legacy_nova_compute_instance_create_start')
    message['payload'][key] = 'hunter2'
    assert redact(message)['payload'][key] == MASK


def test_keystone_payload_password():
    message = load('keystone_cadf_identity_authenticate_failure')
    out = redact(message)
    assert out['payload']['initiator']['credential'] == MASK
    assert 'wrong-password' not in json.dumps(out)


def test_wire_envelope_string_is_scrubbed_inline():
    # A raw envelope still holds its JSON string; the inline rules cover it,
    # but the pipeline should redact after opening the envelope.
    out = redact(load('wire_v2_envelope_compute_instance_delete_start'))
    assert 'gAAAAABsecretFernetTokenValue' not in out['oslo.message']


@pytest.mark.parametrize('text, expected', [
    ('mysql+pymysql://nova:s3cr3t@db.example/nova?charset=utf8',
     'mysql+pymysql://nova:***@db.example/nova?charset=utf8'),
    ('rabbit://openstack:pa/ss@ctl-1:5672/', 'rabbit://openstack:***@ctl-1:5672/'),
    ('rabbit://u:p1@h1:5672,u2:p2@h2:5672/', 'rabbit://u:***@h2:5672/'),
    ('redis://:onlypass@cache:6379', 'redis://:***@cache:6379'),
    ('connect to postgresql://admin:p@ss@db/x failed',
     'connect to postgresql://admin:***@db/x failed'),
    ('http://glance.example:9292/images/abc', 'http://glance.example:9292/images/abc'),
    ('mailto user@example.com at 10:00', 'mailto user@example.com at 10:00'),
    ('Authorization: Bearer abc.def.ghi', 'Authorization: Bearer ***'),
    ('authorization: Basic dXNlcjpwYXNz', 'authorization: Basic ***'),
    ('X-Auth-Token: gAAAAAB123', 'X-Auth-Token: ***'),
    ("headers={'X-Auth-Token': 'gAAAAAB123', 'Accept': 'json'}",
     "headers={'X-Auth-Token': '***', 'Accept': 'json'}"),
    ('curl -H "X-Subject-Token:abc" http://x', 'curl -H "X-Subject-Token:***" http://x'),
    ('login with password=hunter2&user=bob', 'login with password=***&user=bob'),
    ('{"secret": "zz", "a": 1}', '{"secret": "***", "a": 1}'),
    ('2012-03-12 17:01:29.899834', '2012-03-12 17:01:29.899834'),
    ('plain text', 'plain text'),
    ('', ''),
])
def test_secrets_inside_strings(text, expected):
    assert redact(text) == expected
    assert redact({'message': text}) == {'message': expected}


def test_header_pairs_in_lists():
    value = {'headers': [['X-Auth-Token', 'tok'], ('Accept', 'json'), ['Cookie', 'sid=1']]}
    assert redact(value) == {
        'headers': [['X-Auth-Token', MASK], ['Accept', 'json'], ['Cookie', MASK]]}


def test_traceback_strings_scrubbed():
    tb = ('Traceback (most recent call last):\n  File "x.py", line 1, in f\n'
          "    connect(password='hunter2', host='db')\nError")
    assert 'hunter2' not in redact({'traceback': tb})['traceback']


def test_scalars_and_non_json_values_pass_through():
    marker = object()
    assert redact(marker) is marker
    assert redact(5) == 5
    assert redact(None) is None
    value = {'n': 1.5, 'b': True, 'o': marker, 3: 'int key'}
    out = redact(value)
    assert out == value and out['o'] is marker


def test_scalars_not_copied():
    text = 'a fairly long string with nothing secret in it at all'
    assert redact({'k': text})['k'] is text


def test_input_not_mutated_and_copy_is_independent():
    message = load('versioned_nova_instance_create_error')
    message['_context_auth_token'] = 'tok'
    message['payload']['nova_object.data']['admin_password'] = 'pw'
    before = copy.deepcopy(message)
    out = redact(message)
    assert message == before
    assert out['_context_auth_token'] == MASK
    out['payload']['nova_object.data']['flavor']['nova_object.data']['name'] = 'changed'
    assert message == before


def test_whole_fixtures_redact_without_loss_of_harmless_data():
    for path in FIXTURES.glob('*.json'):
        message = json.loads(path.read_text())
        out = redact(message)
        assert out.get('event_type') == message.get('event_type')
        assert out.get('message_id') == message.get('message_id')
        json.dumps(out)


def test_tuples_become_lists():
    assert redact({'t': (1, (2, 3))}) == {'t': [1, [2, 3]]}


def test_thousand_levels_of_dicts_do_not_crash():
    root = node = {}
    for _ in range(1000):
        node['child'] = {'password': 'p', 'ok': 1}
        node = node['child']
    out = redact(root)
    depth, node = 0, out
    while isinstance(node, dict):
        if depth:
            assert node['password'] == MASK
        node = node['child']
        depth += 1
    assert node == TRUNCATED
    # containers at levels 0..MAX_DEPTH are kept
    assert depth == MAX_DEPTH + 1
    json.dumps(out)


def test_thousand_levels_of_lists_do_not_crash():
    root = node = []
    for _ in range(1000):
        child = []
        node.append(child)
        node = child
    out = redact(root)
    json.dumps(out)
    assert 'truncated' in json.dumps(out)


def test_shallow_depth_limit_is_module_setting(monkeypatch):
    monkeypatch.setattr(redact_mod, 'MAX_DEPTH', 2)
    assert redact({'a': {'b': {'c': {'d': 1}}}}) == {'a': {'b': {'c': TRUNCATED}}}


def test_cyclic_input_terminates():
    value = {'name': 'x', 'password': 'p'}
    value['self'] = value
    value['list'] = [value, value]
    out = redact(value)
    assert out['password'] == MASK
    assert out['self'] is out and out['list'][0] is out


def test_shared_subtrees_copied_once():
    shared = {'token': 't'}
    out = redact({'a': shared, 'b': [shared]})
    assert out['a'] is out['b'][0] and out['a'] == {'token': MASK}


# --- redact_json: the JSON text check instead of a walk ------------------------

def _same_as_redact(value, extra_keys=()):
    masked, text = redact_mod.redact_json(value, extra_keys)
    assert masked == redact(value, extra_keys)
    if text is not None:
        assert masked is value
        assert json.loads(text) == json.loads(json.dumps(masked))
    return masked, text


def _nested(depth, leaf):
    for i in range(depth):
        leaf = {'level%d' % i: [leaf]} if i % 2 else {'level%d' % i: leaf}
    return leaf


@pytest.mark.parametrize('value', [
    _nested(20, {'admin_password': 'pw'}),                        # deep
    {'servers': [{'name': 'a'}, {'name': 'b', 'adminPass': 'pw'}]},  # in a list
    {'meta': {'PassWord': 'pw'}}, {'X-AUTH-TOKEN': 't'}, {'Api-Key': 'k'},  # casing, '-'
    {'myPrivateKeyFile': 'k'}, {'oldpasswordhash': 'h'},          # substrings
    {'headers': [['X-Auth-Token', 't'], ['Accept', 'json']]},      # header pairs
    {'transport_url': 'rabbit://nova:S3cr@t@ctl:5672/'},           # URL password
    {'log': 'connect failed: password=hunter2 user=u'},             # inline
    {'to\u212aen': 'x'},                                          # Kelvin sign lower()s to 'k'
    {'name': 'caf\u00e9', 'auth_token': 't'},                       # non-ASCII text
    {'name': 'bad \udcff byte'},                                  # surrogate: made UTF-8
    _nested(MAX_DEPTH + 2, {'name': 'too deep'}),                  # truncated
    {'text': 'a "quoted" \\ back\nslash', 'cookie': 'c'},        # escapes in the text
])
def test_redact_json_walks_what_may_hold_a_secret(value):
    masked, text = _same_as_redact(value)
    assert text is None and masked is not value


def _pattern_words(pattern):
    """Every literal key an alternation like 'a|b_?c|d$' matches ('_?': with
    and without '_')."""
    for alternative in pattern.split('|'):
        alternative = alternative.rstrip('$')
        assert re.fullmatch(r'(?:[a-z]|_\?|_)+', alternative), alternative
        parts = alternative.split('_?')
        for seps in itertools.product(('', '_'), repeat=len(parts) - 1):
            yield parts[0] + ''.join(sep + part for sep, part in zip(seps, parts[1:]))


def _inline_words():
    group = re.match(r'\(\(\?:(.*?)\)\[', redact_mod._INLINE_SECRET_RE.pattern).group(1)
    # '\w*pass(?=...)': any word ending in pass
    return _pattern_words(group.replace(r'\w*pass(?=["\']?\s*[:=])', 'pass'))


def test_redact_json_catches_every_pattern_word():
    keys = set(_pattern_words(redact_mod._SECRET_KEY_RE.pattern))
    assert {'psk', 'apikey', 'api_key', 'preshared_key', 'community'} <= keys
    for word in keys:
        for key in (word, word.upper(), word.replace('_', '-'), 'my_' + word.title() + 'X'):
            masked, text = _same_as_redact({'outer': [{key: 'v'}]})
            assert text is None, key
    inline = set(_inline_words())
    assert inline <= keys | {'pass'}
    for word in inline:
        _masked, text = _same_as_redact({'msg': 'failed: %s=hunter2' % word.upper()})
        assert text is None, word


def test_redact_json_clean_value_is_returned_with_its_text():
    value = {'instance_id': 'inst-1', 'links': [{'href': 'http://ctl/v2/x'}],
             'key_name': 'mykey', 'public_key': 'ssh-rsa AAA', 'display_name': '\u4e91\u4e3b\u673a',
             'metadata': {}, 'flavor': {'vcpus': 2, 'extra': None, 'ok': True}}
    masked, text = _same_as_redact(value)
    assert masked is value and json.loads(text) == value


@pytest.mark.parametrize('value, extra', [
    ({'vault-ref': 'x'}, ('vault_ref',)), ({'Vault_Ref': 'x'}, ('VAULT-REF',)),
    ({'a': {'b': [{'my"odd"key': 'x'}]}}, ('"odd"',)),
    ({'\u0441\u0435\u043a\u0440\u0435\u0442': 'x'}, ('\u0421\u0435\u043a\u0440\u0435\u0442',)),
])
def test_redact_json_extra_keys(value, extra):
    masked, text = _same_as_redact(value, extra)
    assert text is None and MASK in json.dumps(masked)


def test_redact_json_cyclic_and_non_json_values():
    cyclic = {'name': 'n'}
    cyclic['self'] = cyclic
    masked, text = redact_mod.redact_json(cyclic)
    assert text is None and masked['self'] is masked
    masked, text = redact_mod.redact_json({1.5: {'password': 'p'}, 'when': object()})
    assert text is None and masked[1.5] == {'password': MASK}
    when = datetime.datetime(2024, 1, 15, 8, 0)
    masked, text = redact_mod.redact_json({2: 'two', 'when': when})
    assert masked == {2: 'two', 'when': when}
    assert json.loads(text) == {'2': 'two', 'when': '2024-01-15 08:00:00'}


if given is not None:
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=30),
        lambda children: st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12) | st.sampled_from(
            ['password', 'adminPass', 'X-Auth-Token', 'token_expires_at', 'name']),
            children, max_size=4),
        max_leaves=30)

    @settings(max_examples=300, deadline=None)
    @given(value=json_values)
    def test_property_never_crashes_never_mutates_no_secret_survives(value):
        before = copy.deepcopy(value)
        out = redact(value)
        assert value == before
        json.dumps(out)

        def walk(node):
            if isinstance(node, dict):
                for k, v in node.items():
                    if k in ('password', 'adminPass', 'X-Auth-Token') and v is not None:
                        assert v == MASK
                    walk(v)
            elif isinstance(node, list):
                for item in node:
                    walk(item)
        walk(out)

    secretish = st.sampled_from(['password', 'PassWord', 'x-auth-token', 'token_expires_at',
                                 'api-key', 'bypass', 'name', 'vault-ref', 'id', 'psk',
                                 'preSharedKey', 'snmp_community', 'key_name', 'ssh-priv-key'])
    texts = st.text(max_size=30) | st.sampled_from([
        'rabbit://u:pw@h:5672/', 'http://ctl/v2', 'password=x', 'Authorization: Bearer t',
        'caf\u00e9', 'bad \udcff', 'key=1'])
    redact_json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | texts,
        lambda children: st.lists(children, max_size=4)
        | st.lists(secretish, min_size=1, max_size=1).map(lambda k: k + ['v'])
        | st.dictionaries(st.text(max_size=12) | secretish, children, max_size=4),
        max_leaves=30)

    @settings(max_examples=400, deadline=None)
    @given(value=redact_json_values, extra=st.sampled_from([(), ('vault_ref',), ('ID',)]))
    def test_property_redact_json_is_redact(value, extra):
        before = copy.deepcopy(value)
        _same_as_redact(value, extra)
        assert value == before
