"""Fault parsing: the exception a notification reports, in every shape services send."""
import ast
import dataclasses
import http
import re


ERROR_PRIORITIES = frozenset(('error', 'critical'))


@dataclasses.dataclass(frozen=True)
class Fault:
    exception: str | None = None
    message: str | None = None
    code: int | None = None
    function: str | None = None


def fault(payload, priority, phase):
    """The fault a notification reports, or None when it reports none.

    Looked for in nova's versioned ExceptionPayload ('fault', or 'reason' of
    ComputeTaskPayload, or the payload itself for compute.exception), legacy
    nova 'exception' / 'fault' / top-level 'message'+'code', the 'reason' of
    nova's set_vm_state_and_notify and cinder's scheduler, heat's
    'state_reason', ironic's node 'last_error' and CADF's failed 'outcome'.

    Legacy payloads carry the exception object itself, which the services'
    JSON serialiser (oslo.serialization ``to_primitive``) turns into its
    ``repr``: ``Name('message')`` for a plain exception, and for a
    NovaException (since nova 18) the ``str`` of its ``__dict__`` with
    ``'class'`` added.  Both are read back by :func:`exception_repr`.
    """
    fault = payload.get('fault')
    if isinstance(fault, dict) and fault:
        return _fault_from_dict(fault)
    if type(fault) is str and fault:
        return Fault(message=fault)
    exception = payload.get('exception')
    if exception is not None:
        return _fault_from_exception(exception, payload)
    failed = (priority in ERROR_PRIORITIES or phase == 'error'
              or payload.get('outcome') == 'failure')
    if not failed:
        return None
    reason = payload.get('reason')
    if isinstance(reason, dict) and reason:
        found = _fault_from_dict(reason)
    elif type(reason) is str and reason:
        # nova set_vm_state_and_notify / cinder _set_volume_state_and_notify:
        # reason=<the exception>, i.e. its repr on the wire; else free text
        found = exception_repr(reason) or Fault(message=reason)
    else:
        found = Fault()
    return Fault(
        exception=found.exception,
        message=(found.message or as_text(payload.get('message'))
                 or as_text(payload.get('state_reason'))
                 or as_text(payload.get('last_error'))),
        code=found.code if found.code is not None else as_int(payload.get('code')),
        function=found.function,
    )


def _fault_from_exception(exception, payload):
    if isinstance(exception, dict):
        # legacy nova wrap_exception: the exception's attributes, serialised
        found = _fault_from_dict(exception)
    else:
        found = _exception_text(exception)
    return Fault(
        exception=found.exception,
        message=(found.message or as_text(payload.get('exception_message'))
                 or as_text(payload.get('message'))),
        code=found.code if found.code is not None else as_int(payload.get('code')),
        function=found.function or as_text(payload.get('function_name')),
    )


def _fault_from_dict(data):
    kwargs = data.get('kwargs')
    code = as_int(data.get('code'))
    if code is None:
        code = as_int(data.get('reasonCode'))
    if code is None and isinstance(kwargs, dict):
        code = as_int(kwargs.get('code'))
    found = _exception_text(as_text(data.get('exception')) or as_text(data.get('class'))
                            or _cadf_reason_type(data.get('reasonType'), code))
    return Fault(
        exception=found.exception,
        message=(as_text(data.get('exception_message'))
                 or as_text(data.get('message')) or as_text(data.get('msg'))
                 or found.message or _kwargs_message(kwargs)),
        code=code if code is not None else found.code,
        function=as_text(data.get('function_name')),
    )


def _kwargs_message(kwargs):
    """The text of a NovaException serialised as its ``__dict__`` without a
    class or message (older nova: ``{"kwargs": {"code": 500, "reason": "..."}}``):
    the ``reason`` it was raised with."""
    if not isinstance(kwargs, dict):
        return None
    return as_text(kwargs.get('reason')) or as_text(kwargs.get('message'))


def _cadf_reason_type(reason_type, code):
    """A CADF reason's type as an error name: keystone names the status
    (``Unauthorized``), keystonemiddleware's audit events say ``HTTP`` and
    put the status in the code: named the same way here."""
    reason_type = as_text(reason_type)
    if reason_type == 'HTTP' and code is not None:
        try:
            return http.HTTPStatus(code).phrase
        except ValueError:
            pass
    return reason_type


def _exception_text(value):
    """A Fault from the text of an exception: a repr (see :func:`exception_repr`),
    a (module-qualified) class name, or any other text, kept as the name."""
    text = as_text(value)
    if text is None:
        return Fault()
    found = exception_repr(text)
    if found is not None:
        return found
    if _CLASS_PATH.fullmatch(text):
        return Fault(exception=_class_name(text))
    return Fault(exception=text)


#: oslo.messaging names an exception re-raised from an RPC reply ``<name>_Remote``
#: (a subclass made on the fly; module ``<module>_Remote``).
_REMOTE_SUFFIX = '_Remote'
_CLASS_PATH = re.compile(r'[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*')
#: ``Name(args)`` / ``package.module.Name(args)``: BaseException.__repr__.
_CALL_REPR = re.compile(r'([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\((.*)\)', re.DOTALL)
#: The first Python string literal at the start of a text.
_STR_LITERAL = re.compile(r'''[rbuRBU]{0,2}(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")''')
#: NovaException.__repr__: str(self.__dict__) with 'class' added.
_DICT_CLASS = re.compile(r'''['"]class['"]\s*:\s*['"]([A-Za-z_][\w.]*)['"]''')
_DICT_MESSAGE = re.compile(r'''['"]message['"]\s*:\s*''')
_DICT_CODE = re.compile(r'''['"]code['"]\s*:\s*(\d{1,9})\b''')
#: repr texts longer than this are not parsed (a payload field, not an attack surface).
_REPR_MAX = 65536


def _class_name(path):
    name = path.rpartition('.')[2]
    if name.endswith(_REMOTE_SUFFIX) and len(name) > len(_REMOTE_SUFFIX):
        name = name[:-len(_REMOTE_SUFFIX)]
    return name or None


def exception_repr(text):
    """The Fault of an exception's repr as a service serialised it, or None.

    ``PortBindingFailed('Binding failed ...')``, ``NoValidBackend("...")``,
    ``nova.exception.NoValidHost(...)``, ``Timeout()``, and nova's
    ``{'kwargs': {'code': 500, ...}, 'message': '...', 'class': 'NoValidHost'}``.
    The name loses its module and oslo.messaging's ``_Remote`` suffix.
    """
    text = text.strip()
    if len(text) > _REPR_MAX:
        return None
    if text.startswith('{'):
        return _nova_exception_repr(text)
    match = _CALL_REPR.fullmatch(text)
    if match is None:
        return None
    name = _class_name(match.group(1))
    args = match.group(2).strip()
    message = None
    if args and args != '...':
        literal = _STR_LITERAL.match(args)
        if literal is not None:
            message = _literal_str(literal.group(0))
    return Fault(exception=name, message=message or None)


def _nova_exception_repr(text):
    try:
        data = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        data = None         # a kwarg's repr is not a literal: read the keys
    if isinstance(data, dict):
        name = data.get('class')
        if type(name) is not str or not _CLASS_PATH.fullmatch(name):
            return None
        kwargs = data.get('kwargs')
        code = as_int(kwargs.get('code')) if isinstance(kwargs, dict) else None
        return Fault(exception=_class_name(name), message=as_text(data.get('message')),
                     code=code)
    # 'class' is the key NovaException.__repr__ adds last; 'message' follows 'kwargs'
    names = _DICT_CLASS.findall(text)
    if not names:
        return None
    message = None
    for found in _DICT_MESSAGE.finditer(text):
        literal = _STR_LITERAL.match(text, found.end())
        if literal is not None:
            message = _literal_str(literal.group(0)) or message
    code = _DICT_CODE.search(text)
    return Fault(exception=_class_name(names[-1]), message=message or None,
                 code=int(code.group(1)) if code else None)


def _literal_str(literal):
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if type(value) is str else None


def as_text(value):
    if type(value) is str:
        return value or None
    return None


def as_int(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if type(value) is str and value.isdigit() and len(value) < 10:
        return int(value)
    return None


#: What varies between two occurrences of one error message: uuids, hex ids,
#: addresses, host:port, paths of numbers, numbers.  Masked so that messages of
#: exceptions serialised without a class group together.
_VARYING = re.compile(r'''
    [0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}  # uuid
  | \breq-[0-9a-fA-F-]+                                   # request id
  | \b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b  # hex id, 8+
  | \d+(?:\.\d+)*                                          # numbers, versions, addresses
''', re.VERBOSE)
#: Longer than any message worth grouping by; the rest is detail.
_KEY_MAX = 160


def message_key(message):
    """A message with what varies between occurrences masked (``#``), so that
    one error told many times is one group: ``Instance 1f6c... could not be
    found.`` -> ``Instance # could not be found.``"""
    text = ' '.join((message or '').split())
    return _VARYING.sub('#', text)[:_KEY_MAX] or None


def fault_name(fault):
    """How a fault is grouped and shown: its exception's name, else its masked
    message (:func:`message_key`), else None."""
    if fault is None:
        return None
    return fault.exception or message_key(fault.message)
