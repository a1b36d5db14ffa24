"""Feed topics: which entries a feed holds, and its one canonical URL.

A topic is a kind (``notifications`` or ``spans``), a project (or every
project, for admins) and optional filters.  Its URL is canonical (fixed
path, known parameters only, sorted), so the ``self`` link of its document,
the WebSub ``hub.topic`` a subscriber sends and the hub's records all name it
with the same string::

    <base>/v1/feeds/notifications?priority=error&project_id=P&service=nova
    <base>/v1/feeds/spans?all_projects=true&outcome=failure

Filters (:data:`FILTERS`, each also its feed's query parameter): ``service``
(exact); notifications ``event_type`` (a prefix, ``compute.instance.create``)
and ``priority`` (``error`` and ``critical`` are what an errors feed asks
for); spans ``operation`` (a prefix) and ``outcome`` (``failure`` or
``success``).
"""
import dataclasses
import urllib.parse

from nvs_notif.notification import PRIORITIES

KINDS = ('notifications', 'spans')
OUTCOMES = ('failure', 'success')
PATH = '/v1/feeds/'
#: Where the API serves the WebSub hub of its topics.
HUB_PATH = '/v1/hub'
#: Longest filter value accepted (event types and operations are far shorter).
VALUE_LIMIT = 255
#: The filters of each kind, the query parameters of its feed (event types hold
#: their operation: a notifications feed narrows by ``event_type``).
FILTERS = {'notifications': ('service', 'event_type', 'priority'),
            'spans': ('service', 'operation', 'outcome')}


class InvalidTopic(ValueError):
    """Not a topic URL of this API, with why."""


@dataclasses.dataclass(frozen=True)
class Topic:
    kind: str
    project_id: str | None          # None: every project (admins only)
    service: str | None = None
    operation: str | None = None
    event_type: str | None = None
    priority: str | None = None
    outcome: str | None = None

    def url(self, base):
        """The canonical URL under the API's ``base`` (``https://host:port``)."""
        params = {k: getattr(self, k) for k in FILTERS[self.kind] if getattr(self, k)}
        if self.project_id is None:
            params['all_projects'] = 'true'
        else:
            params['project_id'] = self.project_id
        return '%s%s%s?%s' % (base.rstrip('/'), PATH, self.kind,
                              urllib.parse.urlencode(sorted(params.items())))

    @property
    def title(self):
        """What a feed reader shows: ``nova notifications (priority error) of project P``."""
        filters = ', '.join('%s %s' % (k.replace('_', ' '), getattr(self, k))
                            for k in FILTERS[self.kind] if getattr(self, k))
        return '%s%s of %s' % (self.kind, ' (%s)' % filters if filters else '',
                               'every project' if self.project_id is None
                               else 'project %s' % self.project_id)

    def matches_notification(self, doc):
        """Whether a stored notification document belongs to this topic."""
        return (self.kind == 'notifications' and self._common(doc.get('project_id'),
                                                              doc.get('service'),
                                                              doc.get('operation'))
                and _prefix(doc.get('event_type'), self.event_type)
                and (self.priority is None or doc.get('priority') == self.priority))

    def matches_span(self, span):
        """Whether a finished :class:`~nvs_notif.spans.Span` belongs to this topic."""
        return (self.kind == 'spans'
                and self._common(span.project_id, span.service, span.operation)
                and (self.outcome is None or span.status == self.outcome))

    def _common(self, project_id, service, operation):
        return ((self.project_id is None or project_id == self.project_id)
                and (self.service is None or service == self.service)
                and _prefix(operation, self.operation))


def _prefix(value, prefix):
    return prefix is None or (value or '').startswith(prefix)


def parse(url, base):
    """The :class:`Topic` of a URL, which must be canonical (:meth:`Topic.url`):
    what ``hub.topic`` may name.

    :raises InvalidTopic: with the reason
    """
    root = base.rstrip('/') + PATH
    if not isinstance(url, str) or not url.startswith(root):
        raise InvalidTopic('not a feed of this API')
    path, _, query = url[len(root):].partition('?')
    if path not in KINDS:
        raise InvalidTopic('no feed %r' % path)
    try:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=True,
                                       max_num_fields=len(FILTERS[path]) + 1)
    except ValueError as exc:
        raise InvalidTopic('bad query: %s' % exc) from None
    params = dict(pairs)
    if len(params) != len(pairs):
        raise InvalidTopic('a parameter is given twice')
    unknown = set(params) - set(FILTERS[path]) - {'project_id', 'all_projects'}
    if unknown:
        raise InvalidTopic('unknown parameter %s' % sorted(unknown)[0])
    if any(not v or len(v) > VALUE_LIMIT or not v.isprintable() for v in params.values()):
        raise InvalidTopic('empty, overlong or unprintable value')
    everyone = params.pop('all_projects', None)
    project = params.pop('project_id', None)
    if (everyone is None) == (project is None) or everyone not in (None, 'true'):
        raise InvalidTopic('give project_id, or all_projects=true')
    if params.get('priority') not in (None,) + PRIORITIES:
        raise InvalidTopic('unknown priority')
    if params.get('outcome') not in (None,) + OUTCOMES:
        raise InvalidTopic('outcome must be failure or success')
    topic = Topic(path, project, **params)
    if topic.url(base) != url:
        raise InvalidTopic('not the canonical URL: %s' % topic.url(base))
    return topic


def hub_url(base):
    """The URL of the hub of the topics under ``base``."""
    return base.rstrip('/') + HUB_PATH


def split(url):
    """``(base, Topic)`` of a topic URL kept by the hub: the base is what
    precedes the feeds' path (the API's URL root, prefix included), so a
    process that serves no request (the hub's) reads topics too.

    :raises InvalidTopic: with the reason
    """
    base = url.partition(PATH)[0] if isinstance(url, str) and PATH in url else ''
    return base, parse(url, base)
