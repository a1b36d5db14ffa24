"""Masking of secrets in notifications before anything stores them.

:func:`redact` returns a copy of a JSON-like value (dicts, lists, tuples,
scalars, any depth) in which:

* the value of every *secret key* is replaced by :data:`MASK` (``None`` is
  kept: it reveals nothing and says "no secret was set");
* inside every string, URL passwords (``scheme://user:PASS@host``; a
  multi-host ``rabbit://u:P1@h1,u2:P2@h2`` is masked up to its last ``@``,
  host list included) and inline credentials
  (``Authorization: Bearer X``, ``X-Auth-Token: X``, ``password=X``,
  ``"secret": "X"`` in embedded JSON) are masked;
* a ``[name, value]`` pair whose name is a secret key (header lists) has its
  value masked.

Secret keys are matched case-insensitively, ``-`` counting as ``_``, as
substrings: anything containing ``password``, ``passwd``, ``passphrase``,
``secret``, ``token``, ``credential``, ``authorization``, ``cookie``,
``signature``, ``api_key``/``apikey``, ``private_key``/``privatekey``,
``encryption_key``, ``fernet``, ``psk``/``pre_shared_key`` (neutron-vpnaas),
``auth_key``/``priv_key``/``community`` (ironic's SNMP), or ending in
``pass`` (nova's ``adminPass``).
So ``_context_auth_token``, ``X-Auth-Token``, ``admin_password`` and
``passwordCredentials`` are all masked. False positives are preferred to leaks
(``bypass`` is masked), with one exception: keys that name *metadata about*
a secret and end in ``_expires_at``, ``_expires``, ``_expiry``,
``_expiration``, ``_type``, ``_ttl``, ``_count``, ``_length`` or
``_required`` (``token_expires_at``, ``password_expires_at``) are kept, as
their values are timestamps, names or numbers.

Strings (keys and values) holding lone UTF-16 surrogates -- what a
non-UTF-8 byte becomes when read with ``surrogateescape``, or a ``"\ud800"``
escape in JSON -- cannot be encoded as UTF-8, so no store can write them:
their surrogates become U+FFFD (one or more per bad byte).

:func:`redact_json` gives the same result, and the JSON text with it when
it could decide from the text alone that nothing needs masking.

Containers nested deeper than :data:`MAX_DEPTH` are replaced by
:data:`TRUNCATED`: the walk recurses at most that deep, so depth cannot crash it,
but no notification is legitimately that deep and what we hand on must stay
serialisable (``json.dumps`` recurses). Containers shared inside the input are
copied once and shared in the copy, like :func:`copy.deepcopy`, so a cyclic
input terminates too. Scalars are never copied.
"""
import functools
import re

from nvs_notif import jsontext


#: What a secret value becomes.
MASK = '***'
#: What a container nested deeper than MAX_DEPTH becomes.
TRUNCATED = '***truncated***'
#: Deepest container level kept (the top-level value is level 0).
MAX_DEPTH = 64

_SECRET_KEY_RE = re.compile(
    r'password|passwd|passphrase|secret|token|credential|authorization'
    r'|cookie|signature|api_?key|private_?key|encryption_key|fernet|pass$'
    r'|psk|pre_?shared_?key|auth_key|priv_key|community')
_HARMLESS_KEY_RE = re.compile(
    r'_(?:expires_at|expires|expiry|expiration|type|ttl|count|length'
    r'|required)$')
# scheme://user:PASSWORD@ ; greedy up to the last '@' before a blank or a
# quote, so a password holding '@' or '/' cannot leak a tail, and the
# ',user2:PASSWORD2@' of a multi-host transport URL is inside the mask.
_URL_PASSWORD_RE = re.compile(r'(://[^\s/@:"\']*:)([^\s"\']+)(?=@)')
# key: value / key=value in free text, headers and embedded JSON; an auth
# scheme word (Bearer, Basic, ...) before the credential is kept.
_INLINE_SECRET_RE = re.compile(
    r'((?:password|passwd|passphrase|secret|token|credential|authorization'
    r'|api_?key|private_?key|\w*pass(?=["\']?\s*[:=]))[\w-]*["\']?\s*[:=]\s*["\']?'
    r'(?:(?:bearer|basic|digest|negotiate|token)\s+)?)'
    r'([^\s"\'&,;}\]]+)',
    re.IGNORECASE)
# Neither pattern can match a shorter string ('token:x' is 7 characters).
_MIN_SECRET_LEN = 7
# Both patterns need ':' or '=' and one of these words; most strings (ids,
# names, times) fail these plain substring tests, which cost a fraction of
# one case-insensitive regex search.
_SUSPECT_WORDS = ('pass', 'secret', 'token', 'credential', 'authorization', 'key', '://')
_KEY_CACHE_SIZE = 8192
# Every match of _SECRET_KEY_RE and _INLINE_SECRET_RE holds one of these
# words, or 'key' after one of _KEY_PREFIXES (api_key, pre-shared-key; 'key'
# alone is common: key_name, public_key), and a URL password needs '://' and
# '@'.  JSON escapes none of their characters, so a JSON text that holds none
# of them has nothing to mask.  Keep them in step with the patterns
# (test_redact_json_catches_every_pattern_word checks).
_TEXT_WORDS = ('pass', 'secret', 'token', 'credential', 'authorization', 'cookie',
               'signature', 'fernet', 'psk', 'community')
_KEY_PREFIXES = ('api', 'private', 'priv', 'encryption', 'shared', 'auth')
_KEY_PREFIX_LEN = max(map(len, _KEY_PREFIXES)) + 1
_encode = jsontext.encode


def redact(value, extra_keys=()):
    """Return a copy of ``value`` with secrets masked.

    :param value: any JSON-like value; it is not modified.
    :param extra_keys: more key fragments to treat as secret (matched like
        the built-in ones: case-insensitive substrings, ``-`` as ``_``).
    :returns: the masked copy (a string or other scalar for a scalar input).
    """
    is_secret = _key_matcher(tuple(extra_keys)) if extra_keys else _is_secret_key
    if isinstance(value, str):
        return _redact_string(_encodable(value))
    if not isinstance(value, (dict, list, tuple)):
        return value
    return _redact_tree(value, is_secret, {})


def redact_json(value, extra_keys=()):
    """Redact ``value`` and say its JSON text when that came for free.

    Most payloads hold no secret: encoding one (which a store does anyway)
    and searching the text for the words every secret key and inline secret
    contains costs less than walking it.  Only when a word is found (or the
    text is not valid UTF-8, or may be deep enough to be truncated) is the
    value walked by :func:`redact`.

    :param value: any JSON-like value; it is not modified.
    :param extra_keys: as for :func:`redact`.
    :returns: ``(value, text)`` when nothing needs masking (``value`` itself,
        not a copy, and its JSON text), else ``(redact(value, extra_keys), None)``.
    """
    try:
        text = _encode(value)
    except (TypeError, ValueError, RecursionError):
        return redact(value, extra_keys), None
    if _text_is_clean(text, _text_fragments(tuple(extra_keys))):
        return value, text
    return redact(value, extra_keys), None


def _text_is_clean(text, fragments):
    """Whether :func:`redact` would return the value of JSON ``text`` unchanged."""
    if not text.isascii():
        if fragments is None or not _is_utf8(text):
            return False
    # Opening brackets bound the depth from above (some may be inside strings).
    if text.count('{') + text.count('[') > MAX_DEPTH + 1:
        return False
    low = text.lower()
    if any(map(low.__contains__, _TEXT_WORDS)) or _names_a_secret_key(low):
        return False
    if '://' in low and '@' in low:
        return False
    if fragments:
        if '-' in low:
            low = low.replace('-', '_')
        return not any(map(low.__contains__, fragments))
    return True


def _names_a_secret_key(low):
    """Whether a 'key' in ``low`` follows one of _KEY_PREFIXES, maybe
    through one '_' or '-'."""
    at = low.find('key')
    while at != -1:
        before = low[max(at - _KEY_PREFIX_LEN, 0):at]
        if before[-1:] in ('_', '-'):
            before = before[:-1]
        if before.endswith(_KEY_PREFIXES):
            return True
        at = low.find('key', at + 3)
    return False


def _is_utf8(text):
    try:
        text.encode('utf-8')
        return True
    except UnicodeEncodeError:
        return False


@functools.lru_cache(maxsize=32)
def _text_fragments(extra_keys):
    """Extra key fragments as they appear in lower-cased JSON text; None when
    one is not ASCII (lower-casing non-ASCII text is not always per character)."""
    fragments = tuple(k.lower().replace('-', '_') for k in extra_keys if k)
    if not all(f.isascii() for f in fragments):
        return None
    return tuple(_encode(f)[1:-1] for f in fragments)


def _redact_tree(value, is_secret, memo, depth=0):
    # Recursion is bounded by MAX_DEPTH, far below Python's own limit.  Type
    # checks and the cheap string tests are inlined: this runs for every value
    # of every notification.  ``memo`` copies a shared container once (like
    # copy.deepcopy), so shared sub-trees cannot multiply the work.
    if depth > MAX_DEPTH:
        return TRUNCATED
    seen = memo.get(id(value))
    if seen is not None:
        return seen
    if type(value) is dict:
        out = memo[id(value)] = {}
        for key, item in value.items():
            kind = type(item)
            if type(key) is str and not key.isascii():
                key = _encodable(key)
            if item is not None and type(key) is str and is_secret(key):
                out[key] = MASK
            elif kind is str:
                if not item.isascii():
                    item = _encodable(item)
                out[key] = item if (':' not in item and '=' not in item) else _redact_string(item)
            elif kind is dict or kind is list or kind is tuple:
                out[key] = _redact_tree(item, is_secret, memo, depth + 1)
            else:
                out[key] = item
        return out
    out = memo[id(value)] = []
    # A [name, value] pair with a secret name (header lists) has its value masked.
    if (len(value) == 2 and type(value[0]) is str and value[1] is not None
            and is_secret(value[0])):
        out += [_encodable(value[0]), MASK]
        return out
    for item in value:
        kind = type(item)
        if kind is str:
            out.append(_redact_string(_encodable(item)))
        elif kind is dict or kind is list or kind is tuple:
            out.append(_redact_tree(item, is_secret, memo, depth + 1))
        else:
            out.append(item)
    return out


def _encodable(text):
    """``text`` as valid UTF-8: lone surrogates (bytes that were not UTF-8,
    kept by ``surrogateescape``) become U+FFFD, so no store refuses a batch
    over one undecodable string."""
    try:
        text.encode('utf-8')
        return text
    except UnicodeEncodeError:
        return text.encode('utf-8', 'surrogatepass').decode('utf-8', 'replace')


def _might_hold_secret(text):
    if ':' not in text and '=' not in text:
        return False
    low = text.lower()
    return any(word in low for word in _SUSPECT_WORDS)


def _redact_string(text):
    if len(text) < _MIN_SECRET_LEN or not _might_hold_secret(text):
        return text
    if '@' in text and ':' in text:
        text = _URL_PASSWORD_RE.sub(r'\1' + MASK, text)
    if ':' in text or '=' in text:
        text = _INLINE_SECRET_RE.sub(r'\1' + MASK, text)
    return text


@functools.lru_cache(maxsize=_KEY_CACHE_SIZE)
def _is_secret_key(key):
    # Keys repeat across notifications, so the regex runs once per key.
    name = key.lower().replace('-', '_')
    return (_SECRET_KEY_RE.search(name) is not None
            and _HARMLESS_KEY_RE.search(name) is None)


@functools.lru_cache(maxsize=32)
def _key_matcher(extra_keys):
    fragments = tuple(k.lower().replace('-', '_') for k in extra_keys if k)

    @functools.lru_cache(maxsize=_KEY_CACHE_SIZE)
    def is_secret(key):
        if _is_secret_key(key):
            return True
        name = key.lower().replace('-', '_')
        return any(fragment in name for fragment in fragments)
    return is_secret
