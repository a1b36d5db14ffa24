"""The [websub] defaults are declared once (nvs_notif/opts.py): the hub's
settings made from an empty configuration are the settings' own defaults."""
from nvs_notif.api import config
from nvs_notif.feeds import tail
from nvs_notif.websub import hub
from nvs_notif.websub import outbound


def test_settings_of_an_empty_configuration_are_the_defaults():
    group = config.load_conf([]).websub
    assert hub.Settings.from_conf(group) == hub.Settings()
    assert outbound.Policy.from_conf(group) == outbound.Policy()
    assert tail.Settings.from_conf(group) == tail.Settings()
