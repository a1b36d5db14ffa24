"""The one JSON encoding of stored documents.

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
"""
import json

import orjson

# Datetimes and dataclasses go through ``default`` (their ``str``), as with
# the standard encoder; orjson would write them its own way.
_OPTIONS = (orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
            | orjson.OPT_PASSTHROUGH_DATACLASS)
_fallback = json.JSONEncoder(check_circular=False, ensure_ascii=False, default=str,
                             separators=(',', ':')).encode


def encode(value):
    """``value`` as compact JSON text."""
    try:
        return orjson.dumps(value, default=str, option=_OPTIONS).decode()
    except TypeError:           # orjson.JSONEncodeError is one
        return _fallback(value)
