"""The one JSON encoding of stored documents, and their decoding.

The pipeline encodes each payload once (:func:`nvs_notif.redact.redact_json`)
and the stores splice that text into their documents, so every place that
encodes must agree: compact UTF-8 text (not ``\\u`` escapes), anything
unknown as its ``str``.

orjson (elasticsearch-py's ``orjson`` extra) encodes four to five times
faster than the standard library, and encoding was the largest single cost
of the agent's own work; what it refuses (keys that are not strings,
integers beyond 64 bits, lone surrogates, nesting deeper than 254) falls
back to :mod:`json` with the same separators.  NaN and infinities become
``null`` (the standard library writes ``NaN``, which is not JSON).

Decoding is orjson's too (a stored notification's document is mostly its
payload: the standard library's decoder was most of a history page's time);
a text orjson refuses, or that holds a run of 20 digits (orjson reads
integers beyond 64 bits as floats), is read by :mod:`json`.  The digits are
found by a table translation of the UTF-8 bytes orjson reads anyway: a
regular expression took longer than orjson's decoding.

:func:`pretty` is the indented, key-sorted text feeds show a payload as
(orjson's, five times faster than the standard library's, which was most of
the hub's time per notification).
"""
import json

import orjson

# Datetimes and dataclasses go through ``default`` (their ``str``), as with
# the standard encoder; orjson would write them its own way.
_OPTIONS = (orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
            | orjson.OPT_PASSTHROUGH_DATACLASS)
# Every digit to b'0', anything else to b'.': a number of 20 digits or more holds _LONG.
_DIGITS = bytes(ord('0') if chr(c) in '0123456789' else ord('.') for c in range(256))
_LONG = b'0' * 20
_fallback = json.JSONEncoder(check_circular=False, ensure_ascii=False, default=str,
                             separators=(',', ':')).encode
_PRETTY_OPTIONS = _OPTIONS | orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
_pretty_fallback = json.JSONEncoder(check_circular=False, ensure_ascii=False, default=repr,
                                    indent=2, sort_keys=True).encode


def encode(value):
    """``value`` as compact JSON text."""
    try:
        return orjson.dumps(value, default=str, option=_OPTIONS).decode()
    except TypeError:           # orjson.JSONEncodeError is one
        return _fallback(value)


def pretty(value):
    """``value`` as JSON text indented by two spaces, keys sorted (the same
    value is the same text), keys that are not strings as their text,
    anything unknown as its ``repr``.

    :raises RecursionError: nesting beyond the interpreter's limit
    """
    try:
        return orjson.dumps(value, default=repr, option=_PRETTY_OPTIONS).decode()
    except TypeError:
        # Lone surrogates, integers beyond 64 bits, nesting beyond 254 levels.
        return _pretty_fallback(value)


def decode(text):
    """The value of the JSON text ``text``, as :func:`json.loads` reads it."""
    try:
        data = text.encode()
    except UnicodeEncodeError:          # a lone surrogate
        return json.loads(text)
    if _LONG not in data.translate(_DIGITS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:  # e.g. NaN, which encode() never writes
            pass
    return json.loads(text)
