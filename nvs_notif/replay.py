"""Feed notifications to the nvs endpoint in-process: files, a simulated cloud, or
a dead-letter queue (:mod:`nvs_notif.drain`).

The same :class:`nvs_notif.pipeline.NvsEndpoint` as inside the agent does the
work, configured the way the agent would be, with the store as its publisher.
"""
import itertools
import json
import os
import tempfile

from ceilometer import opts as ceilometer_opts
from oslo_config import cfg
import oslo_messaging
import yaml

from nvs_notif import opts
from nvs_notif import pipeline


def make_conf(config_files=()):
    """A conf with ceilometer's and our options, as the agent has it."""
    conf = cfg.ConfigOpts()
    for group, options in ceilometer_opts.list_opts():
        conf.register_opts(list(options), group=None if group == 'DEFAULT' else group)
    opts.register(conf)
    conf([], project='ceilometer', default_config_files=list(config_files))
    return conf


def local_endpoint(store_url, conf=None, other_publishers=()):
    """An nvs endpoint whose sink stores into ``store_url``.

    :param other_publishers: more publisher URLs (``test://``, ``file://...``)
        that receive the span events and meters
    """
    conf = conf or make_conf()
    definition = {'sources': [{'name': 'replay', 'events': ['*'], 'sinks': ['store']}],
                  'sinks': [{'name': 'store',
                             'publishers': [store_url] + list(other_publishers)}]}
    with tempfile.NamedTemporaryFile('w', suffix='.yaml', delete=False) as f:
        yaml.safe_dump(definition, f)
    try:
        conf.set_override('pipeline_cfg_file', f.name, group=opts.GROUP)
        manager = pipeline.NvsPipelineManager(conf)
    finally:
        os.unlink(f.name)
    if not manager.pipelines or not manager.pipelines[0].publishers:
        raise RuntimeError('no publisher could be loaded for %s' % store_url)
    return manager.get_main_endpoints()[0]


def local_store(endpoint):
    """The store a :func:`local_endpoint` writes to (its sink's first publisher)."""
    return endpoint.manager.pipelines[0].publishers[0].store


def parse_body(body):
    """One message as the endpoint takes it: the JSON value of ``body`` (bytes
    or text), or the text itself when it is not JSON, so the endpoint rejects
    it with a reason like any other bad message. Bytes that are not UTF-8 are
    kept with ``surrogateescape``, as files are read."""
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode('utf-8', 'surrogateescape')
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return body


def read_jsonl(paths):
    """Messages from JSON-lines files (see :func:`parse_body`)."""
    for path in paths:
        with open(path, encoding='utf-8', errors='surrogateescape') as f:
            for line in f:
                line = line.strip()
                if line:
                    yield parse_body(line)


def process(endpoint, batch):
    """Hand one batch to the endpoint, each message with its own priority.

    :raises RuntimeError: when the store did not accept the batch.
    """
    # No priority argument: normalize reads each message's own and rejects
    # one that is not a known string, where oslo's dispatcher would raise.
    result = endpoint.process(None, batch)
    if result != oslo_messaging.NotificationResult.HANDLED:
        raise RuntimeError('the store did not accept a batch; see the log')


def replay(messages, endpoint, batch_size=500, progress=None):
    """Process ``messages`` in batches; returns the endpoint's counters."""
    it = iter(messages)
    while batch := list(itertools.islice(it, batch_size)):
        process(endpoint, batch)
        if progress:
            progress(len(batch))
    return dict(endpoint.stats)
