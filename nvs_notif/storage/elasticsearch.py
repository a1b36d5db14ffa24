"""The production store: Elasticsearch 8.x.

Span correlation across workers and agents needs no scripting: spans are read
with their ``_seq_no``/``_primary_term``, merged in Python
(:func:`nvs_notif.spans.merge_all`) and written back with optimistic
concurrency; a conflict re-reads and re-merges only the spans that lost the race.
"""
import datetime
import json
import logging
import urllib.parse

import elasticsearch
from elasticsearch import helpers

from nvs_notif import spans as spans_mod
from nvs_notif.storage import base
from nvs_notif.storage import documents
from nvs_notif.storage import es_templates

LOG = logging.getLogger(__name__)

_KINDS = ('notifications', 'spans', 'events', 'samples', 'rejects')


class StoreError(Exception):
    """The store did not durably accept a batch; the caller should retry it."""


def client_from_url(url):
    """An Elasticsearch client and the store options from a split store URL.

    ``elasticsearch://[user:pass@]host1:9200[,host2:9200]/?index_prefix=nvs&...``;
    ``?scheme=https`` for TLS (the URL scheme must stay ``elasticsearch``:
    ceilometer finds publishers by it).
    """
    query = dict(urllib.parse.parse_qsl(url.query))
    scheme = query.pop('scheme', 'http')
    netloc = url.netloc.rsplit('@', 1)[-1]
    hosts = ['%s://%s' % (scheme, h) for h in netloc.split(',') if h]
    kwargs = {
        'request_timeout': float(query.pop('timeout', 30)),
        'max_retries': int(query.pop('max_retries', 3)),
        'retry_on_timeout': True,
    }
    if url.username:
        kwargs['basic_auth'] = (urllib.parse.unquote(url.username),
                                urllib.parse.unquote(url.password or ''))
    if 'api_key' in query:
        kwargs['api_key'] = query.pop('api_key')
    if scheme == 'https':
        kwargs['verify_certs'] = query.pop('verify_certs', 'true').lower() != 'false'
        for opt in ('ca_certs', 'client_cert', 'client_key'):
            if opt in query:
                kwargs[opt] = query.pop(opt)
    return elasticsearch.Elasticsearch(hosts or ['http://127.0.0.1:9200'], **kwargs), query


class ElasticsearchStore(base.Store):
    """``elasticsearch://host:9200?index_prefix=nvs&refresh=false&bulk_size=500``."""

    remote = True

    def __init__(self, url):
        super().__init__(url)
        self.client, options = client_from_url(url)
        self.prefix = options.get('index_prefix', 'nvs')
        self.refresh = options.get('refresh', 'false')
        self.bulk_size = int(options.get('bulk_size', 500))
        self.conflict_retries = int(options.get('conflict_retries', 10))
        self._templates_ready = False

    def index(self, kind, when=None):
        """Where documents of ``kind`` are written.

        Spans live in one index (every fragment of a span must find it);
        the other kinds go to daily indices by the document's own time, so
        retention drops whole indices (:meth:`purge`).
        """
        if kind == 'spans':
            return '%s-spans' % self.prefix
        return '%s-%s-%s' % (self.prefix, kind, (when or _utcnow()).strftime('%Y.%m.%d'))

    def alias(self, kind):
        """The read name of ``kind``: an alias over its daily indices."""
        return '%s-%s' % (self.prefix, kind)

    def _ensure_templates(self):
        if not self._templates_ready:
            es_templates.install(self.client, self.prefix)
            self._templates_ready = True

    def _bulk(self, actions):
        """Yield ``(ok, op, item)`` per action; retries 429s with backoff."""
        for ok, item in helpers.streaming_bulk(
                self.client, actions, chunk_size=self.bulk_size,
                raise_on_error=False, raise_on_exception=True, max_retries=5,
                initial_backoff=1, max_backoff=30, refresh=self.refresh):
            op, result = next(iter(item.items()))
            yield ok, op, result

    def write(self, batch):
        self._ensure_templates()
        try:
            # Spans first: a reader that sees a notification also sees it in its span.
            merged = self._write_spans(batch.fragments)
            duplicates = self._write_documents(batch)
            return base.WriteResult(merged, duplicates)
        except (elasticsearch.ApiError, elasticsearch.TransportError) as exc:
            raise StoreError(str(exc)) from exc

    def _write_documents(self, batch):
        actions = [{'_op_type': 'create', '_index': self.index('notifications', n.timestamp),
                    '_id': n.message_id, '_source': documents.notification_doc(n)}
                   for n in batch.notifications]
        actions += [{'_op_type': 'create', '_index': self.index('rejects', r.received),
                     '_id': documents.reject_id(r), '_source': documents.reject_doc(r)}
                    for r in batch.rejects]
        return self._bulk_or_dead_letter(actions)

    def _bulk_or_dead_letter(self, actions):
        """Bulk-create; refused documents go to the reject index.

        :returns: how many notifications were already there (409: an earlier delivery)
        """
        sources = {a['_id']: a['_source'] for a in actions if '_id' in a}
        notifications = self.alias('notifications') + '-'
        failed, duplicates = [], 0
        for ok, op, item in self._bulk(actions):
            if ok:
                continue
            if item.get('status') == 409:
                duplicates += item.get('_index', '').startswith(notifications)
            else:
                failed.append(item)
        if failed:
            self._dead_letter(failed, sources)
        return duplicates

    def _dead_letter(self, failed, sources):
        """Documents the cluster refused (e.g. mapping errors) go to the reject index."""
        retryable = [f for f in failed if f.get('status', 500) >= 500 or f.get('status') == 429]
        if retryable:
            raise StoreError('%d documents not accepted: %s' % (len(retryable), retryable[0]))
        LOG.warning('%d documents rejected by Elasticsearch, kept in %s',
                    len(failed), self.alias('rejects'))
        now = _utcnow()
        rejects = [base.Reject(raw=json.dumps(sources.get(f.get('_id')), default=str),
                               reason='%s: %s' % (f.get('_index'), f.get('error')),
                               received=now) for f in failed]
        actions = [{'_op_type': 'create', '_index': self.index('rejects', now),
                    '_id': documents.reject_id(r), '_source': documents.reject_doc(r)}
                   for r in rejects]
        for ok, op, item in self._bulk(actions):
            if not ok and item.get('status') != 409:
                raise StoreError('reject index refused a document: %s' % item)

    def _read_spans(self, ids):
        if not ids:
            return {}
        found = {}
        resp = self.client.mget(index=self.index('spans'), ids=sorted(ids))
        for doc in resp['docs']:
            if doc.get('found'):
                found[doc['_id']] = (documents.span_from_doc(doc['_source']),
                                     doc['_seq_no'], doc['_primary_term'])
        return found

    def _write_spans(self, fragments):
        by_id = {}
        for f in fragments:
            by_id.setdefault(f.span_id, []).append(f)
        result = {}
        pending = set(by_id)
        for _ in range(self.conflict_retries + 1):
            if not pending:
                return result
            stored = self._read_spans(pending)
            actions = []
            for span_id in pending:
                old = stored.get(span_id)
                merged = spans_mod.merge_all(by_id[span_id],
                                             {span_id: old[0]} if old else None)[span_id]
                result[span_id] = merged
                action = {'_index': self.index('spans'), '_id': span_id,
                          '_source': documents.span_doc(merged)}
                if old:
                    action.update(_op_type='index', if_seq_no=old[1],
                                  if_primary_term=old[2])
                else:
                    action['_op_type'] = 'create'
                actions.append(action)
            conflicts = set()
            for ok, op, item in self._bulk(actions):
                if ok:
                    continue
                if item.get('status') == 409:
                    conflicts.add(item['_id'])
                else:
                    raise StoreError('span %s not stored: %s' % (item.get('_id'), item.get('error')))
            pending = conflicts
        raise StoreError('%d spans still conflicting after %d retries'
                         % (len(pending), self.conflict_retries))

    def _write_keyed(self, kind, docs):
        self._ensure_templates()
        time_field = 'generated' if kind == 'events' else 'timestamp'
        self._bulk_or_dead_letter([{'_op_type': 'create',
                                    '_index': self.index(kind, _doc_time(d.get(time_field))),
                                    '_id': d['message_id'], '_source': d} for d in docs])

    def write_events(self, docs):
        self._write_keyed('events', docs)

    def write_samples(self, docs):
        self._write_keyed('samples', docs)

    def spans(self, request_id=None):
        query = {'term': {'request_id': request_id}} if request_id else {'match_all': {}}
        self.client.indices.refresh(index=self.index('spans'), ignore_unavailable=True)
        return [documents.span_from_doc(hit['_source']) for hit in helpers.scan(
            self.client, index=self.index('spans'), query={'query': query},
            ignore_unavailable=True)]

    def count(self, kind):
        if kind not in _KINDS:
            raise ValueError('unknown kind %r' % kind)
        name = self.index(kind) if kind == 'spans' else self.alias(kind)
        self.client.indices.refresh(index=name, ignore_unavailable=True)
        return self.client.count(index=name, ignore_unavailable=True)['count']

    def purge(self, before):
        """Drop what is older than ``before``: whole daily indices, and spans
        whose every time is older.  :returns: ``{kind: removed}``"""
        removed = {}
        cutoff = before.strftime('%Y.%m.%d')
        for kind in _KINDS:
            if kind == 'spans':
                continue
            names = self.client.indices.get(index='%s-%s-*' % (self.prefix, kind),
                                            ignore_unavailable=True, allow_no_indices=True)
            old = [n for n in names if n.rsplit('-', 1)[-1] < cutoff]
            for name in old:
                self.client.indices.delete(index=name)
            removed[kind] = len(old)
        recent = [{'range': {f: {'gte': before.isoformat()}}}
                  for f in ('start', 'last_start', 'end', 'failed')]
        # Scan and bulk-delete rather than _delete_by_query, which lives in a
        # module minimal distributions leave out.
        old_spans = helpers.scan(self.client, index=self.index('spans'), _source=False,
                                 query={'query': {'bool': {'must_not': recent}}},
                                 ignore_unavailable=True)
        actions = ({'_op_type': 'delete', '_index': hit['_index'], '_id': hit['_id']}
                   for hit in old_spans)
        removed['spans'] = sum(1 for ok, op, item in self._bulk(actions)
                               if ok)
        self.client.indices.refresh(index=self.index('spans'), ignore_unavailable=True)
        return removed

    def close(self):
        self.client.close()


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _doc_time(value):
    """The time of a serialised event or sample (ISO string), or now."""
    if isinstance(value, datetime.datetime):
        return value
    try:
        return documents.parse_iso(value) or _utcnow()
    except (TypeError, ValueError):
        return _utcnow()
