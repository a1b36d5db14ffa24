"""The hub's state in Elasticsearch or OpenSearch, for API processes on
several hosts: three indices of the store's prefix,
``<prefix>-websub-subscriptions`` (id: a hash of topic and callback),
``-intents`` and ``-deliveries`` (each delivery carries its body).

Claims use optimistic concurrency instead of a lock: a process searches due
work, then rewrites each document with its ``claimed_until`` under
``if_seq_no``/``if_primary_term``; a 409 means another process claimed it
first, and the work is left to it.  Writes that a following search must see
refresh the index (rare ones: subscriptions, intents); deliveries are found
within ``REFRESH_INTERVAL``; cursors are only read by id (real-time), so
their writes are not refreshed.  Both engines' clients take the same calls
here (``body=`` and query-parameter keywords).
"""
import hashlib
import logging

from nvs_notif.storage import schema
from nvs_notif.websub import store as store_mod
from nvs_notif.websub.subscriptions import Intent, Subscription

LOG = logging.getLogger(__name__)

#: The properties of each index (strict mappings), as storage/schema.py declares them.
_MAPPINGS = {kind.name[len('websub_'):]: {f.name: f.search_mapping for f in kind.fields
                                          if f.mapped}
             for kind in (schema.HUB_SUBSCRIPTIONS, schema.HUB_INTENTS, schema.HUB_CURSORS,
                          schema.HUB_DELIVERIES)}
#: How soon a new delivery or intent is found by the hubs' searches.
REFRESH_INTERVAL = '250ms'
#: The most subscriptions, topics or due items one search returns.
_SEARCH_LIMIT = 10000


def _status(exc):
    # Both clients' API errors have status_code; transport errors have none.
    return getattr(exc, 'status_code', None)


def subscription_id(topic, callback):
    return hashlib.sha256(('%s\x1f%s' % (topic, callback)).encode(
        'utf-8', 'surrogatepass')).hexdigest()


class SearchHubStore(store_mod.HubStore):
    """:class:`~nvs_notif.websub.store.HubStore` over a search store's client.

    :param store: a :class:`nvs_notif.storage.search.SearchStore` (its
        client, index prefix and the engine's helpers and errors)
    """

    def __init__(self, store):
        self._client = store.client
        self._engine = store.engine
        self._index = {kind: '%s-websub-%s' % (store.prefix, kind) for kind in _MAPPINGS}
        for kind, properties in _MAPPINGS.items():
            if not self._client.indices.exists(index=self._index[kind]):
                try:
                    self._client.indices.create(index=self._index[kind], body={
                        'settings': {'refresh_interval': REFRESH_INTERVAL},
                        'mappings': {'dynamic': 'strict', 'properties': properties}})
                    continue
                except self._engine.errors as exc:
                    if 'already_exists' not in str(exc):       # another process made it
                        raise
            # Fields added since the index was made (adding is idempotent).
            self._client.indices.put_mapping(index=self._index[kind],
                                             body={'properties': properties})

    def _search(self, kind, query, sort=None, size=_SEARCH_LIMIT, **body):
        body.update(query=query, size=size, seq_no_primary_term=True)
        if sort:
            body['sort'] = sort
        return self._client.search(index=self._index[kind], body=body)['hits']['hits']

    def _claim(self, kind, hits, until):
        """The hits this process claimed, in one bulk request of writes
        conditional on each hit's sequence number: a 409 is a hit another
        process claimed (or ended) first.  No refresh: a stale search answer
        only costs such a 409."""
        docs = {hit['_id']: dict(hit['_source'], claimed_until=until) for hit in hits}
        actions = ({'_op_type': 'index', '_index': self._index[kind], '_id': hit['_id'],
                    'if_seq_no': hit['_seq_no'], 'if_primary_term': hit['_primary_term'],
                    '_source': docs[hit['_id']]} for hit in hits)
        claimed = []
        for ok, item in self._engine.helpers.streaming_bulk(
                self._client, actions, raise_on_error=False, max_retries=0):
            result = item['index']
            if ok:
                claimed.append((result['_id'], docs[result['_id']]))
            elif result.get('status') != 409:
                raise store_mod.HubStoreError(
                    '%s: %s' % (self._index[kind], result.get('error')))
        return claimed

    def _delete(self, kind, ids):
        # No refresh: a search that still finds a deleted document claims it
        # with a 409.
        actions = ({'_op_type': 'delete', '_index': self._index[kind], '_id': i} for i in ids)
        for ok, item in self._engine.helpers.streaming_bulk(
                self._client, actions, raise_on_error=False, max_retries=0):
            if not ok and item['delete'].get('status') != 404:
                raise store_mod.HubStoreError('%s: %s' % (self._index[kind],
                                                           item['delete'].get('error')))

    def add_intent(self, intent, now):
        self._client.index(index=self._index['intents'], refresh='true', body={
            'mode': intent.mode, 'topic': intent.topic, 'callback': intent.callback,
            'lease_seconds': intent.lease_seconds, 'secret': intent.secret,
            'received': now.timestamp(), 'claimed_until': 0, 'user_id': intent.user_id,
            'project_id': intent.project_id})

    def claim_intents(self, now, hold, limit):
        hits = self._search('intents', {'range': {'claimed_until': {'lte': now.timestamp()}}},
                            sort=[{'received': 'asc'}], size=limit)
        return [(doc_id, Intent(d['mode'], d['topic'], d['callback'], d['lease_seconds'],
                                d['secret'], d.get('user_id'), d.get('project_id')))
                for doc_id, d in self._claim('intents', hits, now.timestamp() + hold)]

    def finish_intent(self, intent_id):
        self._delete('intents', [intent_id])

    def put_subscription(self, subscription):
        s = subscription
        self._client.index(index=self._index['subscriptions'],
                           id=subscription_id(s.topic, s.callback), refresh='true',
                           body={'topic': s.topic, 'callback': s.callback, 'secret': s.secret,
                                 'expires': s.expires.timestamp(), 'user_id': s.user_id,
                                 'project_id': s.project_id})

    def _drop_deliveries(self, query):
        self._delete('deliveries', [h['_id'] for h in self._search('deliveries', query)])

    def remove_subscription(self, topic, callback):
        sid = subscription_id(topic, callback)
        self._drop_deliveries({'term': {'subscription': sid}})
        try:
            self._client.delete(index=self._index['subscriptions'], id=sid, refresh='true')
        except self._engine.errors as exc:
            if _status(exc) == 404:
                return False
            raise
        return True

    def _live(self, now, topic=None):
        live = [{'range': {'expires': {'gt': now.timestamp()}}}]
        if topic is not None:
            live.append({'term': {'topic': topic}})
        return {'bool': {'filter': live}}

    def subscriptions(self, topic, now):
        return [Subscription(d['topic'], d['callback'], store_mod.time_of(d['expires']),
                             d['secret'], d.get('user_id'), d.get('project_id'))
                for d in (h['_source'] for h in self._search(
                    'subscriptions', self._live(now, topic), sort=[{'callback': 'asc'}]))]

    def topics(self, now):
        answer = self._client.search(index=self._index['subscriptions'], body={
            'size': 0, 'query': self._live(now),
            'aggs': {'topics': {'terms': {'field': 'topic', 'size': _SEARCH_LIMIT,
                                          'order': {'_key': 'asc'}}}}})
        return [b['key'] for b in answer['aggregations']['topics']['buckets']]

    def expire(self, now):
        ended = self._search('subscriptions', {'range': {'expires': {'lte': now.timestamp()}}})
        for hit in ended:
            self._drop_deliveries({'term': {'subscription': hit['_id']}})
        self._delete('subscriptions', [h['_id'] for h in ended])
        return len(ended)

    def enqueue(self, contents, now):
        contents = list(contents)
        if not contents:
            return 0
        subs = {}
        for hit in self._search('subscriptions', {'bool': {'filter': [
                {'range': {'expires': {'gt': now.timestamp()}}},
                {'terms': {'topic': sorted({c[0] for c in contents})}}]}}):
            subs.setdefault(hit['_source']['topic'], []).append(hit)
        actions = [{'_index': self._index['deliveries'], '_source': {
            'topic': topic, 'callback': hit['_source']['callback'], 'subscription': hit['_id'],
            'body': body.decode('utf-8', 'surrogateescape'), 'content_type': content_type,
            'link': link, 'attempts': 0, 'first_attempt': None, 'due': now.timestamp(),
            'claimed_until': 0}}
            for topic, body, content_type, link in contents for hit in subs.get(topic, ())]
        if actions:
            # Not refreshed here: the index refreshes every REFRESH_INTERVAL,
            # far cheaper than a forced refresh per publish.
            self._engine.helpers.bulk(self._client, actions)
        return len(actions)

    def claim_deliveries(self, now, hold, limit):
        t = now.timestamp()
        hits = self._search('deliveries', {'bool': {'filter': [
            {'range': {'due': {'lte': t}}}, {'range': {'claimed_until': {'lte': t}}}]}},
            sort=[{'due': 'asc'}], size=limit)
        claimed = self._claim('deliveries', hits, t + hold)
        secrets = self._secrets({d['subscription'] for _, d in claimed})
        out = []
        for doc_id, d in claimed:
            if d['subscription'] not in secrets:       # ended meanwhile
                self._delete('deliveries', [doc_id])
                continue
            out.append(store_mod.Delivery(
                doc_id, d['topic'], d['callback'], secrets[d['subscription']],
                d['body'].encode('utf-8', 'surrogateescape'), d['content_type'], d['link'],
                d['attempts'], d['first_attempt']))
        return out

    def _secrets(self, subscription_ids):
        if not subscription_ids:
            return {}
        docs = self._engine.mget([{'_index': self._index['subscriptions'], '_id': i}
                                  for i in sorted(subscription_ids)])['docs']
        return {d['_id']: d['_source']['secret'] for d in docs if d.get('found')}

    def delivered(self, delivery_ids):
        self._delete('deliveries', delivery_ids)

    def reschedule(self, delivery_id, due, attempts, first_attempt):
        try:
            self._client.update(index=self._index['deliveries'], id=delivery_id, refresh='true',
                                body={'doc': {'due': due.timestamp(), 'attempts': attempts,
                                              'first_attempt': first_attempt,
                                              'claimed_until': 0}})
        except self._engine.errors as exc:
            if _status(exc) != 404:        # its subscription ended meanwhile
                raise

    def _cursor(self, name):
        try:
            return self._client.get(index=self._index['cursors'], id=name)
        except self._engine.errors as exc:
            if _status(exc) != 404:
                raise
            return None

    def cursor_marker(self, name):
        found = self._cursor(name)
        return found['_source']['marker'] if found else None

    def claim_cursor(self, name, now, hold):
        index = self._index['cursors']
        found = self._cursor(name)
        if found is not None and found['_source']['claimed_until'] > now.timestamp():
            return None
        marker = found['_source']['marker'] if found else None
        condition = ({'if_seq_no': found['_seq_no'], 'if_primary_term': found['_primary_term']}
                     if found else {'op_type': 'create'})
        try:
            # Not refreshed: cursors are only read by id, which is real-time.
            written = self._client.index(index=index, id=name, body={
                'marker': marker, 'claimed_until': now.timestamp() + hold}, **condition)
        except self._engine.errors as exc:
            if _status(exc) == 409:         # another process claimed it first
                return None
            raise
        return store_mod.Cursor(name, marker, (written['_seq_no'], written['_primary_term']))

    def advance_cursor(self, cursor, marker, contents, now):
        # No transaction across indices: the deliveries first, so a process
        # dying here publishes the range again rather than never.
        made = self.enqueue(contents, now)
        seq_no, primary_term = cursor.claim
        try:
            self._client.index(index=self._index['cursors'], id=cursor.name,
                               body={'marker': marker, 'claimed_until': 0},
                               if_seq_no=seq_no, if_primary_term=primary_term)
        except self._engine.errors as exc:
            if _status(exc) == 409:
                raise store_mod.CursorLost(cursor.name) from exc
            raise
        return made

    def close(self):
        """The search store owns the client."""
