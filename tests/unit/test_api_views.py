"""The API's JSON responses: orjson's encoding, the values of Flask's."""
import dataclasses
import datetime
import json
import uuid

import flask
from flask.json import provider

from nvs_notif.api import views


@dataclasses.dataclass
class Point:
    x: int
    label: str


VALUE = {'z': 1, 'a': [1.5, 2.0, 1e-7, 10 ** 18, None, True, 'h\u00e9llo \u2603 "q"\n'],
         'when': datetime.datetime(2026, 12, 6, 2, 30, 1, 5, tzinfo=datetime.timezone.utc),
         'day': datetime.date(2026, 12, 6), 'id': uuid.UUID(int=7), 'point': Point(3, 'p'),
         'nested': {'empty': {}, 'list': []}}


def _flask_and_ours(value, debug=False):
    app = flask.Flask(__name__)
    app.debug = debug
    theirs = provider.DefaultJSONProvider(app)
    theirs.sort_keys = False
    ours = views.JSONProvider(app)
    with app.app_context():
        return theirs.response(value), ours.response(value)


def test_responses_hold_the_values_flask_writes_in_the_same_key_order():
    theirs, ours = _flask_and_ours(VALUE)
    assert ours.mimetype == theirs.mimetype == 'application/json'
    assert json.loads(ours.get_data()) == json.loads(theirs.get_data())
    assert list(json.loads(ours.get_data())) == list(VALUE)
    assert json.loads(ours.get_data())['when'] == 'Sun, 06 Dec 2026 02:30:01 GMT'
    assert ours.get_data().endswith(b'}\n')
    assert '\u2603'.encode() in ours.get_data()       # UTF-8, no \u escapes


def test_what_orjson_refuses_is_written_by_flask():
    for value in ({1: 'int key'}, {'big': 10 ** 30}):
        theirs, ours = _flask_and_ours(value)
        assert ours.get_data() == theirs.get_data()


def test_debug_output_stays_indented():
    theirs, ours = _flask_and_ours({'a': [1]}, debug=True)
    assert ours.get_data() == theirs.get_data() and b'\n  ' in ours.get_data()
