"""The saved objects shipped in the package for Kibana
(``nvs_notif/data/kibana/nvs-notif.ndjson``) and OpenSearch Dashboards
(``nvs_notif/data/opensearch-dashboards/nvs-notif.ndjson``).

Read them, rewrite them for another index prefix, and post them to the
server's saved objects import API (the same API in both).
"""
import base64
import collections
import copy
import importlib.resources
import json
import urllib.error
import urllib.request
import uuid

DEFAULT_PREFIX = 'nvs'


class Server(collections.namedtuple('Server', 'name data_dir xsrf_header')):
    """A dashboards server: its name, its objects' package data directory and
    the header its API wants on every write (against cross-site requests)."""

    @property
    def file(self):
        # Package data, where every kind of install puts it (read as a file:
        # wheels install unpacked).
        return str(importlib.resources.files('nvs_notif') / 'data' / self.data_dir
                   / 'nvs-notif.ndjson')


KIBANA = Server('Kibana', 'kibana', ('kbn-xsrf', 'nvs-notif'))
# OpenSearch Dashboards 2.x: its own file (its saved-object format is Kibana 7.10's).
OPENSEARCH_DASHBOARDS = Server('OpenSearch Dashboards', 'opensearch-dashboards',
                               ('osd-xsrf', 'true'))
DEFAULT_FILE = KIBANA.file


def load(path=DEFAULT_FILE):
    """The saved objects of an ndjson export file, as a list of dicts."""
    objects = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            if line.strip():
                objects.append(json.loads(line))
    return objects


def dumps(objects):
    """The ndjson text of ``objects`` (one object per line)."""
    return ''.join(json.dumps(o, sort_keys=True) + '\n' for o in objects)


def _re_prefix(text, old, new, sep):
    if isinstance(text, str) and text.startswith(old + sep):
        return new + text[len(old):]
    return text


def with_prefix(objects, prefix, old=DEFAULT_PREFIX):
    """Copies of ``objects`` for the index prefix ``prefix``.

    Data view titles ``<old>-<kind>`` become ``<prefix>-<kind>``; ids (and the
    references to them) and ``<old> ...`` titles are renamed as well, so the
    objects of several prefixes can live in one Kibana space.
    """
    result = []
    for o in copy.deepcopy(list(objects)):
        o['id'] = _re_prefix(o['id'], old, prefix, '-')
        for ref in o.get('references', ()):
            ref['id'] = _re_prefix(ref['id'], old, prefix, '-')
        attrs = o.get('attributes', {})
        if o['type'] == 'index-pattern':
            attrs['title'] = _re_prefix(attrs['title'], old, prefix, '-')
            if 'name' in attrs:
                attrs['name'] = _re_prefix(attrs['name'], old, prefix, ' ')
        else:
            attrs['title'] = _re_prefix(attrs.get('title'), old, prefix, ' ')
            if 'visState' in attrs:
                vis_state = json.loads(attrs['visState'])
                vis_state['title'] = attrs['title']
                attrs['visState'] = json.dumps(vis_state, sort_keys=True)
        result.append(o)
    return result


def _multipart(filename, content):
    boundary = '----nvs-notif-%s' % uuid.uuid4().hex
    body = ('--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\n'
            'Content-Type: application/ndjson\r\n\r\n' % (boundary, filename)).encode()
    body += content.encode('utf-8') + ('\r\n--%s--\r\n' % boundary).encode()
    return body, 'multipart/form-data; boundary=%s' % boundary


def import_objects(base_url, objects, overwrite=True, auth=None, timeout=60, server=KIBANA):
    """POST ``objects`` to ``<base_url>/api/saved_objects/_import``; returns the server's answer.

    :param auth: ``(user, password)`` for basic auth, or a full ``Authorization``
        header value (e.g. ``'ApiKey ...'``)
    :param server: :data:`KIBANA` or :data:`OPENSEARCH_DASHBOARDS`
    :raises RuntimeError: when the server answers with an HTTP error
    """
    body, content_type = _multipart('nvs-notif.ndjson', dumps(objects))
    url = '%s/api/saved_objects/_import?overwrite=%s' % (base_url.rstrip('/'),
                                                         'true' if overwrite else 'false')
    headers = dict([server.xsrf_header], **{'Content-Type': content_type})
    if isinstance(auth, (tuple, list)):
        headers['Authorization'] = 'Basic ' + base64.b64encode(
            ('%s:%s' % tuple(auth)).encode()).decode()
    elif auth:
        headers['Authorization'] = auth
    request = urllib.request.Request(url, data=body, headers=headers, method='POST')
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode('utf-8'))
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode('utf-8', 'replace')[:2000]
        raise RuntimeError('%s import failed: HTTP %s %s' % (server.name, exc.code,
                                                             detail)) from exc
