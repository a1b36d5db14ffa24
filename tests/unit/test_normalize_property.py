"""Property tests (hypothesis) for notification.normalize and redact.redact."""
import datetime
import json

from hypothesis import given, settings, HealthCheck
from hypothesis import strategies as st

from nvs_notif import notification
from nvs_notif import services
from nvs_notif import redact

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=20))
keys = st.one_of(st.text(max_size=12),
                 st.sampled_from(['message_id', 'event_type', 'priority', 'publisher_id',
                                  'timestamp', 'payload', 'metadata', 'ctxt', 'context',
                                  'oslo.version', 'oslo.message', '_context_request_id',
                                  'nova_object.data', 'fault', 'exception', 'password',
                                  'admin_password', 'X-Auth-Token', 'adminPass']))
json_like = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=6)), max_leaves=40)

PHASED = st.sampled_from(['start', 'end', 'error', 'progress', 'exists', 'update'])
valid_messages = st.fixed_dictionaries({
    'message_id': st.text(min_size=1, max_size=30),
    'event_type': st.builds(lambda parts, phase: '.'.join(parts + [phase]),
                            st.lists(st.from_regex(r'[a-z_]{1,8}', fullmatch=True),
                                     min_size=1, max_size=4), PHASED),
    'priority': st.sampled_from(['audit', 'debug', 'INFO', 'Warn', 'WARNING', 'error',
                                 'CRITICAL', 'sample']),
    'publisher_id': st.one_of(st.none(), st.text(max_size=30)),
    'timestamp': st.datetimes(min_value=datetime.datetime(1971, 1, 2),
                              max_value=datetime.datetime(2199, 12, 30),
                              timezones=st.one_of(st.none(), st.timezones())).map(
                                  lambda d: d.isoformat(sep=' ')),
    'payload': st.one_of(json_like, st.dictionaries(keys, json_like, max_size=6)),
})


@SETTINGS
@given(json_like)
def test_normalize_accepts_or_rejects_anything(message):
    try:
        n = notification.normalize(message)
    except notification.InvalidNotification as exc:
        assert str(exc)
    else:
        assert isinstance(n, notification.Notification)


@SETTINGS
@given(st.dictionaries(keys, json_like, max_size=8), st.one_of(st.none(), st.text(max_size=8)))
def test_normalize_dicts_with_random_keys(message, priority):
    try:
        n = notification.normalize(message, priority)
    except notification.InvalidNotification as exc:
        assert str(exc)
    else:
        assert isinstance(n, notification.Notification)


@SETTINGS
@given(valid_messages, st.booleans())
def test_valid_notifications_are_consistent(message, wrapped):
    if wrapped:
        message = {'oslo.version': '2.0', 'oslo.message': json.dumps(message)}
    n = notification.normalize(message)
    assert n.priority in notification.PRIORITIES and n.priority == n.priority.lower()
    assert n.phase in notification.PHASES
    own_operation, own_phase = services.event_parts(n.event_type)[:2]
    if own_phase in ('start', 'end', 'error', 'progress'):
        assert own_operation + '.' + own_phase == n.event_type
    else:
        assert own_operation == n.event_type
    if (n.operation, n.phase) != (own_operation, own_phase):
        # a failure told for an operation (services.reported_operation)
        assert n.phase == 'error' and n.fault is not None
    assert n.timestamp.tzinfo is not None
    assert n.timestamp.utcoffset() == datetime.timedelta(0)
    assert isinstance(n.payload, dict)


SECRET_KEYS = ['password', 'admin_password', 'X-Auth-Token', 'adminPass', 'api_key', 'Secret',
               'auth_token', 'Authorization']


def _holds_secret_value(value, secret):
    if isinstance(value, dict):
        return any(_holds_secret_value(k, secret) or _holds_secret_value(v, secret)
                   for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_holds_secret_value(v, secret) for v in value)
    return isinstance(value, str) and secret in value


def _plant(tree, key, secret, path):
    """``tree`` with {key: secret} added at the dict chosen by ``path``."""
    if isinstance(tree, dict):
        dicts = [k for k, v in tree.items() if isinstance(v, dict)]
        if path and dicts:
            k = dicts[path[0] % len(dicts)]
            return dict(tree, **{k: _plant(tree[k], key, secret, path[1:])})
        return dict(tree, **{key: secret})
    return {'wrapped': tree, key: secret}


@SETTINGS
@given(json_like, st.sampled_from(SECRET_KEYS), st.lists(st.integers(0, 10), max_size=5),
       st.from_regex(r'[A-Za-z0-9]{12,20}', fullmatch=True))
def test_redact_never_returns_a_secret_value(tree, key, path, secret):
    secret = 'S3KRIT' + secret
    planted = _plant(tree, key, secret, path)
    out = redact.redact(planted)
    assert not _holds_secret_value(out, secret)
    json.dumps(out)


@SETTINGS
@given(json_like)
def test_redact_never_raises_and_stays_encodable(tree):
    out = redact.redact(tree)
    json.dumps(out, ensure_ascii=False).encode('utf-8')


def test_redact_makes_lone_surrogates_encodable():
    out = redact.redact({'\udcff': 'a\ud800b', 'l': ['x\udc80'],
                         'h': [['X-Auth-Token\udcff', 'tok']]})
    json.dumps(out, ensure_ascii=False).encode('utf-8')
    (key,) = [k for k in out if k not in ('l', 'h')]
    assert set(key) == {'\ufffd'} and set(out[key].strip('ab')) == {'\ufffd'}
    assert out['h'][0][0].startswith('X-Auth-Token\ufffd') and out['h'][0][1] == '***'
    # An id or name that cannot be encoded is refused, not stored (a store
    # would fail the whole batch on it).
    for field in ('message_id', 'event_type', 'publisher_id', '_context_request_id'):
        msg = {'message_id': 'm', 'event_type': 'x.start', 'priority': 'info',
               'timestamp': '2024-01-01 00:00:00', 'publisher_id': 'compute.h', 'payload': {}}
        msg[field] = msg.get(field, 'r') + '\udcff'
        try:
            notification.normalize(msg)
        except notification.InvalidNotification as exc:
            assert 'not valid UTF-8' in str(exc)
        else:
            raise AssertionError('%s with a surrogate was accepted' % field)
