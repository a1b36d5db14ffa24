"""Store credentials: oslo.config options, not parts of store URLs.

A store URL names hosts and options only. Its user name, password, API key
and TLS client certificate come from the option group ``[nvs_store_<name>]``
of the configuration the component runs with (ceilometer.conf for the agent,
nvs-notif.conf for the command); ``?credentials=<name>`` in the URL picks the
group, ``[nvs_store_default]`` serves URLs that name none. Secrets are
``secret=True`` options, so oslo.config masks them wherever it logs values,
and a URL (which ceilometer logs with its pipeline file) never holds them.

Credentials inside the URL (``user:password@host``, ``?api_key=``,
``?client_cert=``, ``?client_key=``) still work but are deprecated: each store
opened that way logs a warning naming the store without them.
"""
import dataclasses
import logging
import re
import urllib.parse

from oslo_config import cfg

LOG = logging.getLogger(__name__)

#: The URL query parameter that names the credentials group.
URL_PARAMETER = 'credentials'
GROUP_PREFIX = 'nvs_store_'
DEFAULT_NAME = 'default'

_NAME = re.compile(r'^[A-Za-z0-9_]+$')

OPTS = [
    cfg.StrOpt('username',
               help='User name for HTTP basic authentication to the store.'),
    cfg.StrOpt('password', secret=True,
               help='Password of that user.'),
    cfg.StrOpt('api_key', secret=True,
               help='Elasticsearch API key (the base64 "id:key" form), sent '
                    'instead of a user name and password.'),
    cfg.StrOpt('client_cert',
               help='PEM file of the TLS client certificate (with ?scheme=https).'),
    cfg.StrOpt('client_key', secret=True,
               help='PEM file of the private key of that certificate.'),
]

#: The query parameters that used to carry credentials (deprecated).
_URL_FIELDS = ('api_key', 'client_cert', 'client_key')


@dataclasses.dataclass(frozen=True)
class Credentials:
    """What a store driver authenticates with; any field may be None."""
    username: str = None
    password: str = dataclasses.field(default=None, repr=False)
    api_key: str = dataclasses.field(default=None, repr=False)
    client_cert: str = None
    client_key: str = dataclasses.field(default=None, repr=False)


def group_name(name=DEFAULT_NAME):
    return GROUP_PREFIX + name


def group(name=DEFAULT_NAME):
    return cfg.OptGroup(
        group_name(name), title='Credentials of the stores whose URL says ?credentials=%s'
        % name,
        help='Credentials of the nvs-notif stores (Elasticsearch) whose URL has '
             '?credentials=<name>: group [nvs_store_<name>]; [nvs_store_default] '
             'serves URLs that name none. Keep them out of store URLs and pipeline '
             'files, which are logged.')


def register(conf, name=DEFAULT_NAME):
    """Register ``[nvs_store_<name>]`` on ``conf`` (again is harmless)."""
    conf.register_opts(OPTS, group=group(name))
    return conf[group_name(name)]


def list_opts():
    """The template group for oslo-config-generator."""
    return [(group(), OPTS)]


def split(url, conf=None):
    """``(url, Credentials)``: the store URL without anything secret, and its
    credentials, from ``conf``'s group named by the URL and, deprecated, from
    the URL itself (the group's values win).

    :param url: a split URL (``urllib.parse.urlsplit``)
    :param conf: an oslo.config ``ConfigOpts``, or None for URL credentials only
    :raises ValueError: the URL names a group that cannot exist
    """
    clean, name, inline = _take_out(url)
    if inline:
        LOG.warning('Store %s: credentials inside the store URL (%s) are deprecated; '
                    'set them in the [%s] section of the configuration file instead',
                    urllib.parse.urlunsplit(clean), ', '.join(sorted(inline)),
                    group_name(name))
    configured = _configured(conf, name)
    return clean, Credentials(**{**inline, **configured})


def public(url):
    """The store URL (a string) as it may be shown: without inline credentials."""
    clean, _name, inline = _take_out(urllib.parse.urlsplit(url))
    return urllib.parse.urlunsplit(clean) if inline else url


def _take_out(url):
    """``(url without credentials, group name, {field: inline value})``."""
    query = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
    name = DEFAULT_NAME
    inline = {}
    kept = []
    for key, value in query:
        if key == URL_PARAMETER:
            name = value
        elif key in _URL_FIELDS:
            inline[key] = value
        else:
            kept.append((key, value))
    if not _NAME.match(name):
        raise ValueError('?%s= must be letters, digits or _: it names the option group '
                         '[%s<name>]' % (URL_PARAMETER, GROUP_PREFIX))
    host = url.netloc
    if '@' in host:
        userinfo, host = host.rsplit('@', 1)
        user, _, password = userinfo.partition(':')
        inline['username'] = urllib.parse.unquote(user)
        inline['password'] = urllib.parse.unquote(password)
    return url._replace(netloc=host, query=urllib.parse.urlencode(kept)), name, inline


def _configured(conf, name):
    if conf is None:
        return {}
    if name != DEFAULT_NAME and group_name(name) not in conf.list_all_sections():
        LOG.warning('Store URL names ?%s=%s but no configuration file has a [%s] '
                    'section: the store is used without credentials',
                    URL_PARAMETER, name, group_name(name))
    values = register(conf, name)
    return {opt.dest: values[opt.dest] for opt in OPTS if values[opt.dest] is not None}
