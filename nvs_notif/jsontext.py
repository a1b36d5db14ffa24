"""The one JSON encoding of stored documents.

The pipeline encodes each payload once (:func:`nvs_notif.redact.redact_json`)
and the stores splice that text into their documents, so every place that
encodes must agree: UTF-8 text (not ``\\u`` escapes), anything
unknown as its ``str``.
"""
import json

encode = json.JSONEncoder(check_circular=False, ensure_ascii=False, default=str).encode
