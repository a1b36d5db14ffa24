"""tools.bench_queries --copy-sqlite: a search-engine store copied from a SQLite store
holds what a replay of the same notifications into the engine holds."""
import pytest

from nvs_notif.storage import documents
from tests.functional.support import store_url
from tools import bench_queries


def _documents(client, prefix, kind):
    """``{index (prefix left out)/id: _source}``; the ingest stamp (the time each
    was sent) left out."""
    found = client.search(index='%s-%s' % (prefix, kind),
                          body={'size': 10000, 'query': {'match_all': {}}})['hits']['hits']
    return {'%s/%s' % (h['_index'][len(prefix):], h['_id']):
            [(k, v) for k, v in h['_source'].items() if k != documents.INGESTED]
            for h in found}


@pytest.mark.parametrize('engine', ['elasticsearch', 'opensearch'])
def test_a_copied_store_holds_what_a_replay_wrote(engine, es_prefix, es_client, os_client,
                                                  tmp_path):
    client = es_client if engine == 'elasticsearch' else os_client
    source = 'sqlite:///%s' % (tmp_path / 'replayed.db')
    replayed, copied = es_prefix + '-replayed', es_prefix + '-copied'
    for url in (source, store_url(engine, replayed)):
        bench_queries.fill(url, 800, 0, lambda _: None)
    bench_queries.copy_sqlite(source, store_url(engine, copied), lambda _: None)
    client.indices.refresh(index=es_prefix + '-*')
    for kind in ('notifications', 'spans'):
        want = _documents(client, replayed, kind)
        assert len(want) > 200
        # values and key order: the same JSON text but the stamp
        assert _documents(client, copied, kind) == want, kind
