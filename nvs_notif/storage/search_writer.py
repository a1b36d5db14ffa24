"""The write path of the search-engine stores: bulk requests, the span
read-merge-write with optimistic concurrency, and dead-lettering.

Spans are read with their ``_seq_no``/``_primary_term``, merged in Python
(:func:`nvs_notif.spans.merge_all`) and written back with ``if_seq_no``; a
conflict re-reads and re-merges only the spans that lost the race, so no
scripting is needed. Documents the cluster refuses for what they are (mapping
errors) go to the reject index; refusals worth a retry fail the batch.
"""
import collections
import datetime
import logging
import time

from nvs_notif import jsontext
from nvs_notif import spans as spans_mod
from nvs_notif import timeutil
from nvs_notif.storage import base
from nvs_notif.storage import documents

LOG = logging.getLogger(__name__)

# Of each bulk item only what we and the helpers read: a quarter of the
# response, less for Elasticsearch to write and for us to decode.
_BULK_RESPONSE = 'errors,items.*._index,items.*._id,items.*.status,items.*.error'

# Documents refused with 429 (the engine is busy) are sent again after
# 1, 2, 4, 8, 16 s; still refused, they fail the batch (StoreError).
_RETRIES_429 = 5
_BACKOFF_INITIAL = 1.0
_BACKOFF_MAX = 30.0


class SearchWriter:
    """Writes into the indices of one search-engine store.

    :param engine: the store's :class:`~nvs_notif.storage.search.Engine`
    :param layout: where each kind of document goes
        (:class:`~nvs_notif.storage.search.IndexLayout`)
    :param bulk_size: actions per bulk request
    :param refresh: the bulk requests' ``refresh`` ('false', 'true', 'wait_for')
    :param conflict_retries: rounds of re-reading spans that lost a race
        before the batch fails
    """

    def __init__(self, engine, layout, bulk_size=500, refresh='false', conflict_retries=10):
        self.engine = engine
        self.client = engine.client
        self.layout = layout
        self.bulk_size = bulk_size
        self.refresh = refresh
        self.conflict_retries = conflict_retries

    def bulk(self, actions):
        """Yield ``(ok, op, item)`` per action; retries 429s with backoff.

        A notification is stamped ``ingested`` as the request holding it is
        sent, a retried one again: the hub's tail reads in stamp order what
        is settled (searchable) and never looks back, so a stamp taken before
        a slow span merge or a back-off (the helpers' own retries resend the
        first text) would let the tail pass a notification still unsent.
        """
        delay = _BACKOFF_INITIAL
        for attempt in range(_RETRIES_429 + 1):
            sent, refused = collections.deque(), []
            for ok, item in self.engine.helpers.streaming_bulk(
                    self.client, _sending(actions, sent), chunk_size=self.bulk_size,
                    raise_on_error=False, raise_on_exception=True, max_retries=0,
                    refresh=self.refresh, filter_path=_BULK_RESPONSE):
                action = sent.popleft()         # results come in request order
                op, result = next(iter(item.items()))
                if not ok and result.get('status') == 429 and attempt < _RETRIES_429:
                    refused.append(action)
                else:
                    yield ok, op, result
            if not refused:
                return
            LOG.warning('%s refused %d documents with 429 (busy): sent again in %s s',
                        self.engine.name, len(refused), delay)
            time.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX)
            actions = refused

    def write(self, batch):
        """Store ``batch``: its spans merged with the stored ones, then its
        documents. :returns: a :class:`~nvs_notif.storage.base.WriteResult`"""
        by_id = {}
        for f in batch.fragments:
            by_id.setdefault(f.span_id, []).append(f)
        merged = {}
        # The first round of span writes travels with the batch's documents:
        # one bulk request per batch, unless spans lost a race to another
        # writer; then only those are re-read, re-merged and written again.
        doc_actions = self.document_actions(batch)
        pending, duplicates = set(by_id), 0
        for _ in range(self.conflict_retries + 1):
            actions = self._span_actions(pending, by_id, merged) + doc_actions
            pending, found = self.bulk_or_dead_letter(actions)
            duplicates += found
            doc_actions = []
            if not pending:
                return base.WriteResult(merged, duplicates)
        raise base.StoreError('%d spans still conflicting after %d retries'
                         % (len(pending), self.conflict_retries))

    def document_actions(self, batch):
        """The bulk actions creating ``batch``'s notifications and new rejects."""
        # The source as JSON text, the payload spliced in as the pipeline
        # encoded it: helpers send text as is, so no payload is encoded twice.
        # Every notification is stamped when its request is sent (bulk).
        texts = batch.payload_json
        actions = [{'_op_type': 'create', '_index': self.layout.index('notifications', n.timestamp),
                    '_id': n.message_id,
                    '_source': documents.Unstamped(
                        documents.notification_json(n, texts.get(n.message_id))[1])}
                   for n in batch.notifications]
        actions += [{'_op_type': 'create', '_index': self.layout.index('rejects', r.received),
                     '_id': reject_id, '_source': documents.reject_doc(r)}
                    for reject_id, r in self._new_rejects(batch.rejects).items()]
        return actions

    def _new_rejects(self, rejects):
        """``{reject id: reject}`` of those not stored yet.

        A reject's index is the day it was received, which differs per
        delivery: ``create`` alone would keep a message redelivered on
        another day twice. Real-time gets in every reject index see
        what was written, refreshed or not.
        """
        by_id = {documents.reject_id(r): r for r in rejects}
        alias = self.layout.alias('rejects')
        if not by_id or not self.client.indices.exists_alias(name=alias):
            return by_id
        indices = self.client.indices.get_alias(name=alias)
        found = self.engine.mget([{'_index': index, '_id': reject_id, '_source': False}
                                  for index in indices for reject_id in by_id])
        for doc in found['docs']:
            if doc.get('found'):
                by_id.pop(doc['_id'], None)
        return by_id

    def _span_actions(self, span_ids, by_id, merged):
        """Read-merge the spans: create new ones, update the others only if
        nobody wrote them since they were read (``if_seq_no``)."""
        stored = self.read_spans(span_ids)
        actions = []
        for span_id in span_ids:
            old = stored.get(span_id)
            merged[span_id] = span = spans_mod.merge_all(
                by_id[span_id], {span_id: old[0]} if old else None)[span_id]
            actions.append(self.span_action(span, old and old[1:]))
        return actions

    def span_action(self, span, read_at=None):
        """The bulk action writing ``span``: a create, or with ``read_at``
        (the ``(_seq_no, _primary_term)`` it was read at) an update only if
        nobody wrote it since."""
        action = {'_index': self.layout.index('spans'), '_id': span.span_id,
                  '_source': documents.span_doc(span)}
        if read_at:
            action.update(_op_type='index', if_seq_no=read_at[0], if_primary_term=read_at[1])
        else:
            action['_op_type'] = 'create'
        return action

    def bulk_or_dead_letter(self, actions):
        """Bulk-write; refused documents go to the reject index.

        :returns: ``(span ids that lost a race, notifications already stored)``;
            a 409 on a notification, reject, event or sample is an earlier
            delivery of the same document
        """
        spans_index = self.layout.index('spans')
        notifications = self.layout.alias('notifications') + '-'
        failed, conflicts, duplicates = [], set(), 0
        for ok, op, item in self.bulk(actions):
            if ok:
                continue
            index, status = item.get('_index', ''), item.get('status')
            if index == spans_index:
                if status != 409:
                    raise base.StoreError('span %s not stored: %s' % (item.get('_id'), item.get('error')))
                conflicts.add(item['_id'])
            elif status == 409:
                duplicates += index.startswith(notifications)
            else:
                failed.append(item)
        if failed:
            ids = {f.get('_id') for f in failed}
            sources = {a['_id']: a['_source'] for a in actions if a.get('_id') in ids}
            failed = self._store_payload_unindexed(failed, sources, notifications)
            if failed:
                self._dead_letter(failed, sources)
        return conflicts, duplicates

    def _store_payload_unindexed(self, failed, sources, notifications):
        """Store again, once, the notifications refused for their payload alone,
        with the payload kept in ``_source`` only (:data:`documents.UNINDEXED_PAYLOAD`):
        e.g. a string over 32,766 bytes, which OpenSearch's ``flat_object`` indexes
        as one term and refuses, or nesting past Elasticsearch's ``flattened``
        depth limit. The notification stays whole and findable by every other
        field, marked with the engine's reason (:data:`documents.PAYLOAD_REFUSED`).
        :returns: the items still refused (for the reject index)"""
        retry = [f for f in failed if f.get('status') == 400
                 and f.get('_index', '').startswith(notifications)
                 and 'payload' in str(f.get('error'))]
        if not retry:
            return failed
        LOG.warning('%d notifications refused by %s for their payload (%s): stored with '
                    'the payload unindexed', len(retry), self.engine.name, retry[0].get('error'))
        actions = [{'_op_type': 'create', '_index': f['_index'], '_id': f['_id'],
                    '_source': documents.Unstamped(documents.payload_unindexed(
                        _text(sources[f['_id']]), _reason(f.get('error'))))}
                   for f in retry]
        still = {item.get('_id') for ok, op, item in self.bulk(actions)
                 if not ok and item.get('status') != 409}
        return [f for f in failed if f not in retry or f.get('_id') in still]

    def _dead_letter(self, failed, sources):
        """Documents the cluster refused (e.g. mapping errors) go to the reject index."""
        retryable = [f for f in failed if f.get('status', 500) >= 500 or f.get('status') == 429]
        if retryable:
            raise base.StoreError('%d documents not accepted: %s' % (len(retryable), retryable[0]))
        LOG.warning('%d documents rejected by %s, kept in %s',
                    len(failed), self.engine.name, self.layout.alias('rejects'))
        now = timeutil.utcnow()
        rejects = [base.Reject(raw=_text(sources.get(f.get('_id'))),
                               reason='%s: %s' % (f.get('_index'), f.get('error')),
                               received=now) for f in failed]
        actions = [{'_op_type': 'create', '_index': self.layout.index('rejects', now),
                    '_id': documents.reject_id(r), '_source': documents.reject_doc(r)}
                   for r in rejects]
        for ok, op, item in self.bulk(actions):
            if not ok and item.get('status') != 409:
                raise base.StoreError('reject index refused a document: %s' % item)

    def read_spans(self, ids):
        """``{span_id: (Span, seq_no, primary_term)}`` of the stored spans of
        ``ids`` (a real-time ``mget``)."""
        if not ids:
            return {}
        found = {}
        resp = self.engine.mget([{'_index': self.layout.index('spans'), '_id': i} for i in sorted(ids)])
        for doc in resp['docs']:
            if doc.get('found'):
                found[doc['_id']] = (documents.span_from_doc(doc['_source']),
                                     doc['_seq_no'], doc['_primary_term'])
        return found

    def write_keyed(self, kind, docs):
        """Events or samples (``kind``), each under its ``message_id``."""
        time_field = 'generated' if kind == 'events' else 'timestamp'
        self.bulk_or_dead_letter([{'_op_type': 'create',
                                    '_index': self.layout.index(kind, _doc_time(d.get(time_field))),
                                    '_id': d['message_id'], '_source': d} for d in docs])


def sendable(action):
    """A bulk action as the helpers send it: a notification stamped now."""
    source = action.get('_source')
    if isinstance(source, documents.Unstamped):
        return dict(action, _source=source.stamped(timeutil.utcnow()))
    return action


def _sending(actions, sent):
    """``actions`` as the helpers send them, each kept in ``sent`` first."""
    for action in actions:
        sent.append(action)
        yield sendable(action)


def _reason(error):
    """The short reason of a bulk item's error (its type), to search by."""
    return error.get('type') if isinstance(error, dict) else str(error)[:200]


def _text(source):
    """A bulk action's source as JSON text (ours are text, unstamped text or dicts)."""
    if isinstance(source, documents.Unstamped):
        return source.text
    return source if isinstance(source, str) else jsontext.encode(source)


def _doc_time(value):
    """The time of a serialised event or sample (ISO string), or now."""
    if isinstance(value, datetime.datetime):
        return value
    try:
        return timeutil.parse_iso(value) or timeutil.utcnow()
    except (TypeError, ValueError):
        return timeutil.utcnow()
