"""Load the hostile-input corpus: one case per ``NNN-name.json`` file here.

A case file is a JSON object:

``description``
    what is hostile about it.
``expect``
    ``"reject"`` or ``"store"``: what ``pipeline.build_batch`` (the nvs
    endpoint) must do with the message.
``reason`` (optional)
    a substring of the reject reason.
``agent`` (optional)
    what the real agent does when the case arrives over RabbitMQ, if it
    differs from ``expect``: ``"dropped"`` (oslo.messaging discards it before
    our endpoint, logging why), ``"poison"`` (oslo.messaging fails the whole
    batch and requeues it forever) or ``"reject"`` (the store dead-letters it).
``secrets`` (optional)
    strings that must never be stored nor appear in a reject.

and exactly one body:

``message``
    the JSON value the endpoint receives (a plain notification or an oslo v2
    envelope); on the wire a plain notification is wrapped in a v2 envelope,
    as oslo.messaging's ``messagingv2`` driver does.
``raw`` / ``raw_base64``
    the exact wire body (text, or bytes that need not be UTF-8). In-process it
    is read like ``nvs-notif replay`` reads a JSON-lines file: decoded as
    UTF-8 with ``surrogateescape``, parsed as JSON when it is JSON, else passed
    on as the text.
``build``
    a small description of a message too big to commit (10 MB payloads,
    1,000-level nesting, 10,000 keys), built by :func:`_build`.

The text ``MID`` in a message id is replaced by a fresh id per use, so the
same case can be stored more than once by different tests.
"""
import base64
import dataclasses
import json
import pathlib
import sys
import uuid

HERE = pathlib.Path(__file__).resolve().parent


def base_message(**fields):
    msg = {'message_id': 'MID', 'publisher_id': 'compute.host-h',
           'event_type': 'compute.instance.create.start', 'priority': 'INFO',
           'timestamp': '2024-01-15 08:00:00.000000',
           '_context_request_id': 'req-hostile', '_context_project_id': 'proj-h',
           'payload': {'instance_id': 'inst-h', 'state': 'building'}}
    msg.update(fields)
    return msg


def envelope(inner_text):
    """The body oslo.messaging's messagingv2 driver publishes."""
    return {'oslo.version': '2.0', 'oslo.message': inner_text}


def _nest(depth, container, leaf):
    value = leaf
    for _ in range(depth):
        value = {'n': value} if container == 'dict' else [value]
    return value


def _build(spec):
    kind = spec['kind']
    if kind == 'big_string':
        return base_message(payload={'instance_id': 'inst-h', 'blob': 'x' * spec['bytes']})
    if kind == 'big_list':
        item = 'y' * spec['item_bytes']
        return base_message(payload={'instance_id': 'inst-h', 'items': [item] * spec['items']})
    if kind == 'nest':
        return base_message(payload={'instance_id': 'inst-h',
                                     'deep': _nest(spec['depth'], spec['container'], 'bottom')})
    if kind == 'nest_envelope':
        depth = spec['depth']
        return envelope('{"a": ' * depth + '1' + '}' * depth)
    if kind == 'nest_versioned':
        obj = {'nova_object.name': 'Leaf', 'nova_object.data': {'v': 1}}
        for _ in range(spec['depth']):
            obj = {'nova_object.name': 'Node', 'nova_object.version': '1.0',
                   'nova_object.data': {'child': obj}}
        obj['nova_object.data']['uuid'] = 'inst-h'
        return base_message(event_type='instance.create.start',
                            publisher_id='nova-compute:host-h', payload=obj)
    if kind == 'many_keys':
        if spec.get('dotted'):
            payload = {'a.b.%d' % i: {'c.%d' % i: i} for i in range(spec['count'])}
        else:
            payload = {'key_%05d' % i: i for i in range(spec['count'])}
        payload['instance_id'] = 'inst-h'
        return base_message(payload=payload)
    if kind == 'deep_secret':
        msg = base_message(payload={'instance_id': 'inst-h',
                                    'deep': _nest(spec['depth'], 'dict',
                                                  {'password': 'DeepSecret-64'})})
        if spec.get('reject'):
            del msg['message_id']
        return msg
    raise ValueError('unknown build kind %r' % kind)


def _with_id(value, message_id):
    if isinstance(value, dict):
        if value.get('message_id') == 'MID':
            value = dict(value, message_id=message_id)
        elif isinstance(value.get('message_id'), str) and value['message_id'].startswith('MID-'):
            value = dict(value, message_id=message_id + value['message_id'][3:])
        if isinstance(value.get('oslo.message'), str) and '"MID' in value['oslo.message']:
            value = dict(value, **{'oslo.message': value['oslo.message'].replace(
                '"MID', '"' + message_id)})
    return value


@dataclasses.dataclass
class Case:
    name: str
    description: str
    expect: str
    reason: str | None
    agent: str
    secrets: tuple
    spec: dict

    def __str__(self):
        return self.name

    @property
    def is_raw(self):
        return 'raw' in self.spec or 'raw_base64' in self.spec

    def raw_bytes(self, message_id='MID'):
        if 'raw' in self.spec:
            data = self.spec['raw'].encode('utf-8', 'surrogatepass')
        else:
            data = base64.b64decode(self.spec['raw_base64'])
        return data.replace(b'"MID"', json.dumps(message_id).encode())

    def message(self, message_id=None):
        """What the endpoint receives in-process (see the module docstring)."""
        message_id = message_id or 'hostile-%s-%s' % (self.name, uuid.uuid4().hex[:8])
        if self.is_raw:
            text = self.raw_bytes(message_id).decode('utf-8', 'surrogateescape')
            try:
                return json.loads(text)
            except ValueError:
                return text
        if 'build' in self.spec:
            return _with_id(_build(self.spec['build']), message_id)
        return _with_id(self.spec['message'], message_id)

    def wire_body(self, message_id):
        """The exact bytes published to RabbitMQ for this case."""
        if self.is_raw:
            data = self.raw_bytes(message_id)
            try:
                value = json.loads(data)
            except ValueError:
                return data
            if isinstance(value, dict) and 'oslo.message' not in value:
                # A notification dict travels in a v2 envelope, like oslo's.
                return json.dumps(envelope(data.decode('utf-8', 'surrogatepass'))).encode()
            return data
        value = self.message(message_id)
        # 1,000-level payloads are deeper than json's default recursion
        # limit (oslo's Notifier could not serialise them either).
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 20000))
        try:
            if isinstance(value, dict) and 'oslo.message' not in value:
                value = envelope(json.dumps(value))
            return json.dumps(value).encode()
        finally:
            sys.setrecursionlimit(limit)


def load_cases():
    cases = []
    for path in sorted(HERE.glob('[0-9][0-9][0-9]-*.json')):
        spec = json.loads(path.read_text(encoding='utf-8'))
        body_keys = [k for k in ('message', 'raw', 'raw_base64', 'build') if k in spec]
        if len(body_keys) != 1 or spec['expect'] not in ('reject', 'store'):
            raise ValueError('%s: needs one body and expect reject|store' % path.name)
        cases.append(Case(name=path.stem, description=spec['description'],
                          expect=spec['expect'], reason=spec.get('reason'),
                          agent=spec.get('agent', spec['expect']),
                          secrets=tuple(spec.get('secrets', ())), spec=spec))
    return cases
