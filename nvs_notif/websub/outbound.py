"""Outbound HTTP to subscriber callbacks, made safe: the hub must not become
a way to reach internal services.

* Only http(s) URLs (:func:`~nvs_notif.websub.subscriptions.check_callback`).
* The address a connection really reaches is checked when it connects (so a
  name that resolves elsewhere at delivery time, or a redirect, is checked
  too): allowed are the operator's ``callback_allowed_networks``, the hosts
  named in ``callback_allowed_hosts``, and, with ``callback_allow_public``,
  globally routable addresses; never loopback, private, link-local (cloud
  metadata) or multicast ones unless listed.
* Bounded connect/read timeouts and response sizes; no proxies or netrc from
  the environment; redirects followed (each hop checked) only for the
  verification GET, at most ``max_redirects``.
"""
import dataclasses
import ipaddress
import urllib.parse

import requests
from requests import adapters
from urllib3 import connection
from urllib3 import connectionpool

from nvs_notif.opts import websub_default


class CallbackRefused(Exception):
    """The callback is not allowed (by the URL or the address it reaches)."""


@dataclasses.dataclass(frozen=True)
class Policy:
    """What outbound calls may reach, and their bounds.

    :ivar networks: ``ipaddress`` networks callbacks may reach
    :ivar hosts: host names callbacks may reach, whatever they resolve to
        (a leading dot allows subdomains: ``.hooks.example.com``)
    :ivar allow_public: whether globally routable addresses are allowed
    """
    networks: tuple = ()
    hosts: tuple = ()
    allow_public: bool = websub_default('callback_allow_public')
    connect_timeout: float = websub_default('connect_timeout')
    read_timeout: float = websub_default('read_timeout')
    max_response_bytes: int = websub_default('max_response_bytes')
    max_redirects: int = websub_default('max_redirects')

    @classmethod
    def from_conf(cls, group):
        """From the ``[websub]`` options (:data:`nvs_notif.opts.WEBSUB_OPTS`)."""
        return cls(networks=tuple(ipaddress.ip_network(n, strict=False)
                                  for n in group.callback_allowed_networks),
                   hosts=tuple(h.lower() for h in group.callback_allowed_hosts),
                   allow_public=group.callback_allow_public,
                   connect_timeout=group.connect_timeout, read_timeout=group.read_timeout,
                   max_response_bytes=group.max_response_bytes,
                   max_redirects=group.max_redirects)

    def host_allowed(self, host):
        host = (host or '').lower().rstrip('.')
        return any(host == h or (h.startswith('.') and host.endswith(h)) for h in self.hosts)

    def address_allowed(self, address):
        ip = ipaddress.ip_address(address.split('%', 1)[0])
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if any(ip in net for net in self.networks if net.version == ip.version):
            return True
        return self.allow_public and ip.is_global and not ip.is_multicast


@dataclasses.dataclass(frozen=True)
class Response:
    status: int
    body: bytes         # at most max_response_bytes
    url: str            # after redirects


def _guarded_connection(base, policy):
    class Guarded(base):
        def _new_conn(self):
            sock = super()._new_conn()
            address = sock.getpeername()[0]
            if not (policy.host_allowed(self.host) or policy.address_allowed(address)):
                sock.close()
                raise CallbackRefused('%s (%s) is not an allowed callback address'
                                      % (self.host, address))
            return sock
    return Guarded


class _GuardedAdapter(adapters.HTTPAdapter):
    def __init__(self, policy):
        self._policy = policy
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            'http': type('GuardedHTTPPool', (connectionpool.HTTPConnectionPool,), {
                'ConnectionCls': _guarded_connection(connection.HTTPConnection, self._policy)}),
            'https': type('GuardedHTTPSPool', (connectionpool.HTTPSConnectionPool,), {
                'ConnectionCls': _guarded_connection(connection.HTTPSConnection, self._policy)}),
        }


class Client:
    """The hub's HTTP client: every call goes through the :class:`Policy`.
    One per thread (a ``requests.Session`` is not thread-safe)."""

    def __init__(self, policy):
        self.policy = policy
        self._session = requests.Session()
        self._session.trust_env = False          # no proxies or netrc from the environment
        adapter = _GuardedAdapter(policy)
        self._session.mount('http://', adapter)
        self._session.mount('https://', adapter)

    def _call(self, method, url, **kwargs):
        # CallbackRefused, raised while connecting, is no OSError: urllib3
        # and requests let it through as it is.
        with self._session.request(method, url, stream=True, allow_redirects=False,
                                   timeout=(self.policy.connect_timeout,
                                            self.policy.read_timeout), **kwargs) as r:
            body = r.raw.read(self.policy.max_response_bytes, decode_content=True)
            return Response(r.status_code, body, r.url), self._session.get_redirect_target(r)

    def get(self, url):
        """GET ``url``, following at most ``max_redirects`` redirects (each
        hop checked; requests' own following would read whole bodies)."""
        for _ in range(self.policy.max_redirects + 1):
            answer, target = self._call('GET', url)
            if target is None:
                return answer
            url = urllib.parse.urljoin(answer.url, target)
        raise requests.TooManyRedirects('more than %d redirects' % self.policy.max_redirects)

    def post(self, url, body, headers):
        """POST ``body``; a redirect is an answer, not followed."""
        return self._call('POST', url, data=body, headers=headers)[0]

    def close(self):
        self._session.close()

