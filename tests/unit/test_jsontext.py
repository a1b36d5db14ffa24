import dataclasses
import datetime
import json
import urllib.parse

import pytest

from nvs_notif import jsontext
from nvs_notif.storage import elasticsearch as es_store


@dataclasses.dataclass
class _Thing:
    name: str


_NOW = datetime.datetime(2026, 11, 22, 3, 4, 5, 678901, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize('value', [
    {'a': 1, 'b': [1.5, None, True], 'c': {'d': 'é ✓'}},
    {'big': 2 ** 70},                   # orjson refuses: beyond 64 bits
    {1: 'int key', None: 'none key'},
    {'lone': '\ud800'},                 # orjson refuses: not encodable UTF-8
    [[[[[]]]]],
])
def test_encode_matches_the_standard_library(value):
    expected = json.dumps(value, ensure_ascii=False, separators=(',', ':'), default=str)
    assert jsontext.encode(value) == expected


@pytest.mark.parametrize('value, expected', [
    (_NOW, '"2026-11-22 03:04:05.678901+00:00"'),
    (_Thing('x'), '"_Thing(name=\'x\')"'),
    ({'s': {1, 2}}, '{"s":"{1, 2}"}'),
    (b'raw', '"b\'raw\'"'),
])
def test_unknown_types_are_their_str(value, expected):
    assert jsontext.encode(value) == expected


def test_deep_values_fall_back_to_the_standard_library():
    value = []
    for _ in range(300):                # orjson stops at 254 levels
        value = [value]
    assert jsontext.encode(value) == '[' * 301 + ']' * 301


@pytest.mark.parametrize('value', [
    {'b': [1.5, None, True], 'a': {'d': 'é ✓', 'c': {}}, 'e': []},
    {'big': 2 ** 70},                   # orjson refuses: beyond 64 bits
    {'lone': '\ud800'},                 # orjson refuses: not encodable UTF-8
    [[[[[]]]]],
])
def test_pretty_matches_the_standard_library(value):
    expected = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
    assert jsontext.pretty(value) == expected


def test_pretty_shows_keys_of_mixed_types_and_unknown_values():
    assert jsontext.pretty({2: 'b', 'a': _Thing('x')}) == (
        '{\n  "2": "b",\n  "a": "_Thing(name=\'x\')"\n}')


def _serializer():
    client, _options = es_store.client_from_url(urllib.parse.urlsplit('elasticsearch://es1:9200'))
    return client.transport.serializers.get_serializer('application/json')


def test_client_serializer_sends_what_orjson_refuses():
    serializer = _serializer()
    assert json.loads(serializer.dumps({'big': 2 ** 70, 'at': _NOW})) == {
        'big': 2 ** 70, 'at': '2026-11-22T03:04:05.678901+00:00'}


def test_client_serializer_reads_big_integers_exactly():
    assert _serializer().loads('{"n": 123456789012345678901234567890}') == {
        'n': 123456789012345678901234567890}


def test_nan_and_infinity_are_null():
    # Not JSON: Elasticsearch would refuse the whole document.
    assert jsontext.encode({'r': float('nan'), 'm': float('inf')}) == '{"r":null,"m":null}'


@pytest.mark.parametrize('text', [
    '{"a":1,"b":[1.5,null,true],"c":{"d":"é ✓"}}',
    '{"big":1180591620717411303425,"neg":-100000000000000000000}',   # beyond 64 bits
    '{"u64":18446744073709551615,"id":"12345678901234567890123"}',
    '{"lone":"\\ud800"}',
    '[NaN,Infinity,1e400]',             # not JSON, but the standard library's
    '[' * 300 + ']' * 300,
])
def test_decode_reads_what_the_standard_library_reads(text):
    # repr: an int read as a float, or NaN (never equal to itself), shows
    assert repr(jsontext.decode(text)) == repr(json.loads(text))


def test_decode_raises_on_bad_json():
    with pytest.raises(ValueError):
        jsontext.decode('{"a":')
