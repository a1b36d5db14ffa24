"""``nvs-notif hosts``: per host and service, how much they say, how much of it is
errors, and who went quiet.

Stores count (:meth:`nvs_notif.storage.base.Store.host_activity`); :func:`rows`
derives the rates, shares and silence.
"""
import datetime
import typing

from nvs_notif.answers import common
from nvs_notif.timeutil import iso

COLUMNS = ('host', 'service', 'notifications', 'per minute', 'last seen', 'errors',
           'error %', 'silent')
#: The window counted when none is given: this long before "now".
WINDOW = datetime.timedelta(hours=1)
#: A row quiet this long before "now" is silent, unless told otherwise (a duration).
SILENT_AFTER = '10m'


class HostActivity(typing.NamedTuple):
    """What a store counted for one host and service in a window.

    The keys are as stored (None or empty when missing); ``last`` is the
    newest notification's time (aware datetime).
    """
    host: typing.Optional[str]
    service: typing.Optional[str]
    count: int
    errors: int
    last: datetime.datetime


class HostRow(typing.NamedTuple):
    """One row of ``hosts`` (:data:`COLUMNS`)."""
    host: str
    service: str
    notifications: int
    per_minute: typing.Optional[float]
    last_seen: str
    errors: int
    error_pct: float
    silent: str


def activity_of(docs, since, until):
    """The activity computed in Python over notification documents (the stores'
    fallback); the documents are read once, so ``docs`` may be a stream.

    :param since: aware datetime (inclusive)
    :param until: aware datetime (inclusive)
    :returns: a list of :class:`HostActivity`
    """
    groups = {}
    for d in docs:
        when = common.doc_time(d)
        if when is None or not since <= when <= until:
            continue
        key = (d.get('host'), d.get('service'))
        count, errs, last = groups.get(key, (0, 0, when))
        groups[key] = (count + 1, errs + common.is_error(d), max(last, when))
    return [HostActivity(*key, *values) for key, values in groups.items()]


def rows(activity, now, since, silent_after):
    """``hosts`` rows of a store's activity over ``since``..``now``, by host, then service.

    ``per minute`` is notifications over the window's length in minutes;
    ``error %`` is error notifications (priority error or critical) over all
    of the row's notifications.  ``silent`` is ``yes`` when the row (that
    service on that host) was seen in the window but not in the last
    ``silent_after`` seconds before ``now``.  A host or service silent for
    the whole window has no row: widen ``since`` to see it.  Activity
    without a host or service is grouped under ``-``.

    :param now: aware datetime, the end of the window and the silence clock
    :param since: aware datetime, the start of the window
    :param silent_after: seconds (float or int)
    :returns: a list of :class:`HostRow`
    """
    merged = {}
    for a in activity:
        key = (common.key(a.host), common.key(a.service))
        count, errs, last = merged.get(key, (0, 0, a.last))
        merged[key] = (count + a.count, errs + a.errors, max(last, a.last))
    minutes = (now - since).total_seconds() / 60.0
    try:
        quiet_since = now - datetime.timedelta(seconds=silent_after)
    except OverflowError:
        quiet_since = common.MIN      # longer than time goes back: nobody is silent
    return [HostRow(host, service, count, round(count / minutes, 2) if minutes > 0 else None,
                    iso(last), errs, round(100.0 * errs / count, 1),
                    'yes' if last < quiet_since else 'no')
            for (host, service), (count, errs, last) in sorted(merged.items())]
