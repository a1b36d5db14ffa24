"""The search-engine core's reads of an index whose shards are not started
yet (a daily index created between the wait and the read), for both engines'
errors. The servers' side is in tests/functional (count() under load)."""
import urllib.parse

import elastic_transport
import elasticsearch
import opensearchpy
import pytest

from nvs_notif.storage import elasticsearch as es_store
from nvs_notif.storage import opensearch as os_store


def _es_error(status):
    meta = elastic_transport.ApiResponseMeta(
        status=status, http_version='1.1', headers=elastic_transport.HttpHeaders(),
        duration=0.1, node=elastic_transport.NodeConfig('http', 'es1', 9200))
    return elasticsearch.ApiError('search_phase_execution_exception', meta=meta, body={})


STORES = [(es_store.ElasticsearchStore, 'elasticsearch://es1:9200/', _es_error),
          (os_store.OpenSearchStore, 'opensearch://os1:9200/',
           lambda status: opensearchpy.TransportError(status, 'search_phase_execution_exception'))]


@pytest.fixture(params=STORES, ids=['elasticsearch', 'opensearch'])
def store_and_error(request, monkeypatch):
    cls, url, error = request.param
    store = cls(urllib.parse.urlsplit(url))
    waits = []
    monkeypatch.setattr(store, '_wait_started', waits.append)
    yield store, error, waits
    store.close()


def test_a_read_answered_503_waits_and_reads_again(store_and_error):
    store, error, waits = store_and_error
    answers = [error(503), 7]

    def read():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert store._read_ready('nvs-notifications', read) == 7
    assert waits == ['nvs-notifications']


@pytest.mark.parametrize('status', [400, 404, 500])
def test_other_errors_are_not_read_again(store_and_error, status):
    store, error, waits = store_and_error
    calls = []

    def read():
        calls.append(1)
        raise error(status)

    with pytest.raises(type(error(status))):
        store._read_ready('nvs-notifications', read)
    assert len(calls) == 1 and waits == []


def test_a_second_503_is_raised(store_and_error):
    store, error, waits = store_and_error

    def read():
        raise error(503)

    with pytest.raises(type(error(503))):
        store._read_ready('nvs-spans', read)
    assert waits == ['nvs-spans']


@pytest.mark.parametrize('install, status, raises', [
    (False, 403, False), (True, 403, True), (False, 500, True)])
def test_only_reads_go_on_when_the_layout_may_not_be_read(store_and_error, monkeypatch,
                                                          install, status, raises):
    """Credentials that may read documents but not index templates (403)
    only skip the layout check of reads; writers need it."""
    from nvs_notif.storage import search_upgrade
    store, error, waits = store_and_error
    calls = []

    def forbidden(*args):
        calls.append(args)
        raise error(status)

    monkeypatch.setattr(search_upgrade, 'prepare', forbidden)
    if raises:
        with pytest.raises(type(error(status))):
            store._prepare(install)
    else:
        store._prepare(install)
        store._prepare(install)
        assert len(calls) == 1
