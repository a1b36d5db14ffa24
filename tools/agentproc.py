"""A ``ceilometer-agent-notification`` subprocess with its own config and log.

Shared by the functional tests and the benchmark scripts
(``from tools.agentproc import Agent``).
"""
import collections
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import textwrap

import yaml


class Agent:
    """One agent process: nvs pipeline (and optionally ceilometer's own ones).

    :param topic: the notification topic, or several separated by commas
    :param publishers: the nvs sink's publisher URLs
    :param pipelines: ``[notification] pipelines`` (``nvs``, ``event``, ...)
    :param event_publishers: the stock event sink's publishers (``test://`` if none)
    :param extra_conf: config file text appended (the ``[nvs]`` section is last,
        so bare options land there; later sections may follow)
    """

    def __init__(self, workdir, name, transport_url, topic, publishers, workers=1,
                 pipelines=('nvs',), batch_size=100, extra_conf='', event_publishers=()):
        self.workdir = pathlib.Path(workdir)
        self.name = name
        self.log_path = self.workdir / ('%s.log' % name)
        nvs_pipeline = self.workdir / ('%s-nvs_pipeline.yaml' % name)
        nvs_pipeline.write_text(yaml.safe_dump({
            'sources': [{'name': 'nvs_source', 'events': ['*'], 'sinks': ['nvs_sink']}],
            'sinks': [{'name': 'nvs_sink', 'publishers': list(publishers)}]}))
        event_pipeline = self.workdir / ('%s-event_pipeline.yaml' % name)
        event_pipeline.write_text(yaml.safe_dump({
            'sources': [{'name': 'event_source', 'events': ['*'], 'sinks': ['event_sink']}],
            'sinks': [{'name': 'event_sink',
                       'publishers': list(event_publishers) or ['test://']}]}))
        self.conf_path = self.workdir / ('%s.conf' % name)
        self.conf_path.write_text(textwrap.dedent('''\
            [DEFAULT]
            transport_url = {transport_url}
            log_file = {log}
            debug = false
            event_pipeline_cfg_file = {event_pipeline}
            [oslo_messaging_notifications]
            topics = {topic}
            [oslo_messaging_rabbit]
            # As etc/pipeline/ceilometer.conf.sample recommends (ceilometer: 100).
            rabbit_qos_prefetch_count = {prefetch}
            [notification]
            {pipelines}
            workers = {workers}
            batch_size = {batch_size}
            batch_timeout = 1
            [nvs]
            pipeline_cfg_file = {nvs_pipeline}
            spool_dir = {spool_dir}
            spool_flush_interval = 0.5
            ''').format(transport_url=transport_url, log=self.log_path, topic=topic,
                        pipelines='\n'.join('pipelines = %s' % p for p in pipelines),
                        workers=workers, batch_size=batch_size, prefetch=4 * batch_size,
                        nvs_pipeline=nvs_pipeline, event_pipeline=event_pipeline,
                        spool_dir=self.workdir / 'spool') + extra_conf)
        self.proc = None

    def start(self):
        exe = shutil.which('ceilometer-agent-notification', path=os.path.dirname(sys.executable))
        if not exe:
            raise RuntimeError('ceilometer-agent-notification not found next to %s'
                               % sys.executable)
        self.proc = subprocess.Popen([exe, '--config-file', str(self.conf_path)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Send ``sig`` to the agent's process group; SIGKILL what is left after
        ``timeout`` (workers are cotyledon children in the same group)."""
        if self.proc is None:
            return
        for signum, wait in ((sig, timeout), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, signum)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                pass

    def log_text(self):
        return self.log_path.read_text(errors='replace') if self.log_path.exists() else ''

    def tracebacks(self):
        return re.findall(r'Traceback \(most recent call last\):.*?(?=\n\S|\Z)',
                          self.log_text(), re.S)

    def log_summary(self):
        """Counts of warnings and worse, the first few of them and the log's tail."""
        text = self.log_text()
        levels = collections.Counter(re.findall(r'^\S+ \S+ \d+ (WARNING|ERROR|CRITICAL) ',
                                                text, re.M))
        samples = [line[:300] for line in text.splitlines()
                   if re.search(r' (WARNING|ERROR|CRITICAL) ', line)][:5]
        return {'levels': dict(levels), 'tracebacks': text.count('Traceback (most recent'),
                'samples': samples, 'tail': text.splitlines()[-15:]}
