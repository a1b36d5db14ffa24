"""``nvs-notif stuck``: requests open past their operation's limit."""
import typing

from nvs_notif.answers import common
from nvs_notif import spans
from nvs_notif import timeutil

COLUMNS = ('request_id', 'operation', 'host', 'project', 'started', 'open for (s)',
           'limit (s)')



def policy_of(conf):
    """The :class:`~nvs_notif.spans.StuckPolicy` of the ``[nvs]`` options of ``conf``."""
    from nvs_notif import opts
    return spans.StuckPolicy.of(conf[opts.GROUP].stuck_after,
                                conf[opts.GROUP].stuck_after_overrides)

class OpenSpan(typing.NamedTuple):
    """What :func:`stuck` reads of an open span: a store may return these from
    :meth:`~nvs_notif.storage.base.Store.stuck_spans` instead of whole spans
    (SQLite reads them from columns, not from each span's document)."""
    span_id: str
    request_id: typing.Optional[str]
    operation: str
    host: typing.Optional[str]
    project_id: typing.Optional[str]
    open_since: typing.Any      # aware datetime

    @property
    def status(self):
        return 'open'


class StuckRow(typing.NamedTuple):
    """One row of :data:`COLUMNS`."""
    request_id: str
    operation: str
    host: str
    project: str
    started: str
    open_for: float
    limit: float


def stuck(open_spans, now, policy):
    """Open spans past their per-operation limit as of ``now``, longest open first.

    A span is open from its start, or, when an attempt ended or failed before
    a later one started (a reschedule, a retry), from the start of that later
    attempt (:attr:`~nvs_notif.spans.Span.open_since`): ``started`` and
    ``open for`` count from there.  ``open_spans`` may hold more than those
    (:meth:`nvs_notif.storage.base.Store.stuck_spans` returns a superset):
    each is judged exactly here.

    :param policy: a :class:`nvs_notif.spans.StuckPolicy`
    :returns: :class:`StuckRow` rows
    """
    rows = []
    for s in open_spans:
        # The limit once per span (policy.outcome would look it up again).
        limit = policy.limit(s.operation)
        if spans.outcome(s, now, limit) == 'timeout':
            rows.append(StuckRow(s.request_id, s.operation, s.host, s.project_id,
                                 timeutil.iso(s.open_since),
                                 common.seconds((now - s.open_since).total_seconds()), limit))
    rows.sort(key=lambda r: (-r.open_for, r.operation, r.request_id or ''))
    return rows
