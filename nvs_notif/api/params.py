"""The query parameters of a request, checked: a bad one is a 400 that names it.

Each endpoint declares the parameters it takes; any other one, or one given
twice, is refused, so a typo never silently widens an answer.
"""
import flask

from nvs_notif.api import errors
from nvs_notif import timeutil

#: Longest id (message, request, resource, project, marker) a request may give.
MAX_ID = 255
_TRUE, _FALSE = ('true', '1', 'yes'), ('false', '0', 'no')


def query(allowed):
    """``{name: text}`` of the request's query, each name in ``allowed`` at most once."""
    args = flask.request.args
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise errors.BadRequest('unknown parameter %s; this endpoint takes: %s'
                                % (_show(unknown[0]), ', '.join(sorted(allowed))))
    for name in args:
        if len(args.getlist(name)) > 1:
            raise errors.BadRequest('%s given more than once' % name)
    return args.to_dict()


def _show(text, length=40):
    return repr(text if len(text) <= length else text[:length] + '...')


def ident(name, value):
    """An id as given (any text a store may hold), refused when empty, too
    long or holding control characters."""
    if value is None:
        return None
    if not value or len(value) > MAX_ID or not value.isprintable():
        raise errors.BadRequest('%s must be 1 to %d printable characters' % (name, MAX_ID))
    return value


def limit(value, default, maximum):
    """The page size: a whole number from 1 to ``maximum``, else ``default``."""
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= maximum:
        raise errors.BadRequest('limit must be a whole number from 1 to %d, not %s'
                                % (maximum, _show(value)))
    return int(value)


def page_limit(args, api):
    """The ``limit`` of a request's checked query (:func:`query`), bounded by the
    ``[api]`` options ``api`` (``default_limit``, ``max_limit``)."""
    return limit(args.get('limit'), api.default_limit, api.max_limit)


def time(name, value, now):
    """An ISO 8601 time or an age (``30m``, ``2h``, ``7d``) before ``now``."""
    if value is None:
        return None
    try:
        return timeutil.parse_time(value, now)
    except (ValueError, OverflowError):
        raise errors.BadRequest('%s must be an ISO 8601 time or an age like 30m, 2h or 7d, '
                                'not %s' % (name, _show(value))) from None


def duration(name, value):
    """Seconds of a duration (``90``, ``90s``, ``10m``, ``2h``)."""
    try:
        return timeutil.parse_duration(value)
    except (ValueError, OverflowError):
        raise errors.BadRequest('%s must be a duration like 90s, 10m or 2h, not %s'
                                % (name, _show(value))) from None


def window(args, now):
    """``(since, until)`` of ``args``, refused when since is after until."""
    since = time('since', args.get('since'), now)
    until = time('until', args.get('until'), now)
    if since and until and since > until:
        raise errors.BadRequest('since (%s) is after until (%s)'
                                % (timeutil.iso(since), timeutil.iso(until)))
    return since, until


def flag(name, value):
    """A boolean: true/1/yes or false/0/no (absent: false)."""
    if value is None:
        return False
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise errors.BadRequest('%s must be true or false, not %s' % (name, _show(value)))


def choice(name, value, choices):
    """One of ``choices``, or None when absent."""
    if value is not None and value not in choices:
        raise errors.BadRequest('%s must be one of %s' % (name, ', '.join(sorted(choices))))
    return value
