"""``nvs-notif errors``: failed spans and error notifications, grouped by host,
service and exception.

A failed span counts once, at its failure time (``finished``: when it, or the
operation it ran inside, failed), on the host of its last attempt (``source``
``span``); each notification of priority error or critical counts once
(``source`` ``notification``).  The two sources overlap on purpose: a failed
span's ``.error`` notification is also an error notification, while spans
also count failures reported at info priority and notifications also count
errors outside any span.  Exceptions are named by
:func:`nvs_notif.faults.fault_name` (stored as ``error_key``).

Stores group (:meth:`nvs_notif.storage.base.Store.error_groups`); :func:`rows`
names, merges and orders their groups.
"""
import datetime
import typing

from nvs_notif import faults
from nvs_notif.answers import common
from nvs_notif.timeutil import iso

COLUMNS = ('source', 'host', 'service', 'exception', 'count', 'first seen', 'last seen')
#: The priorities of error notifications, in the order stores are asked for them.
PRIORITIES = tuple(sorted(faults.ERROR_PRIORITIES))


class ErrorGroup(typing.NamedTuple):
    """What a store counted for one source, host, service and exception.

    The keys are as stored (None or empty when missing); ``first`` and
    ``last`` are aware datetimes.
    """
    source: str
    host: typing.Optional[str]
    service: typing.Optional[str]
    exception: typing.Optional[str]
    count: int
    first: datetime.datetime
    last: datetime.datetime


class ErrorRow(typing.NamedTuple):
    """One row of ``errors`` (:data:`COLUMNS`)."""
    source: str
    host: str
    service: str
    exception: str
    count: int
    first_seen: str
    last_seen: str


def groups_of(spans, notifications, since=None, until=None):
    """The groups computed in Python over every record (the stores' fallback).

    :param spans: :class:`~nvs_notif.spans.Span` objects (a superset is fine)
    :param notifications: notification documents (a superset is fine)
    :param since: aware datetime or None (inclusive)
    :param until: aware datetime or None (inclusive)
    :returns: a list of :class:`ErrorGroup`
    """
    groups = {}

    def add(key, when):
        count, first, last = groups.get(key, (0, when, when))
        groups[key] = (count + 1, min(first, when), max(last, when))

    for s in spans:
        if s.status == 'failure' and common.in_window(s.finished, since, until):
            add(('span', s.host, s.service, faults.fault_name(s.fault)), s.finished)
    for d in notifications:
        when = common.doc_time(d)
        if common.is_error(d) and when and common.in_window(when, since, until):
            add(('notification', d.get('host'), d.get('service'),
                 d.get('error_type') or faults.message_key(d.get('error_message'))), when)
    return [ErrorGroup(*key, *values) for key, values in groups.items()]


def rows(groups, top=None):
    """``errors`` rows of a store's groups, most frequent first (ties by key).

    Groups whose keys differ only in how they are missing (None, empty) are one row.

    :param top: only the ``top`` most frequent rows
    :returns: a list of :class:`ErrorRow`
    """
    merged = {}
    for g in groups:
        key = (g.source, common.key(g.host), common.key(g.service), common.key(g.exception))
        count, first, last = merged.get(key, (0, g.first, g.last))
        merged[key] = (count + g.count, min(first, g.first), max(last, g.last))
    ordered = sorted(merged.items(), key=lambda kv: (-kv[1][0], kv[0]))
    return [ErrorRow(*key, count, iso(first), iso(last))
            for key, (count, first, last) in ordered[:top]]
