"""``streamlearn serve``: MQTT in, forecasts out, checkpointed.

A paho-mqtt client (MQTT 3.1.1, a persistent session: ``clean_session=False``
under a fixed client id and user name) subscribes to the configured topics at
QoS 1 and acknowledges each reading by hand (``manual_ack``), only once it is
in the shard's durable log. The network thread only queues what arrives; the
main thread takes batches from the queue, hands them to the :class:`Router`,
publishes the forecasts, acknowledges, and checkpoints every
``checkpoint.period`` seconds. SIGTERM (or SIGINT) ends the loop after the
batch in hand: a final checkpoint, a clean disconnect, exit code 0.

A lost broker: paho reconnects by itself with exponential back-off between
``broker.reconnect_min`` and ``broker.reconnect_max`` seconds; readings
received on the old connection and not yet acknowledged are not acknowledged
on the new one (their packet ids belong to the old one): the broker sends them
again and their sequence numbers make the copies harmless.
"""

from __future__ import annotations

import collections
import json
import logging
import queue
import signal
import threading
import time

from .engine import Router
from .payload import BadPayload, parse_reading, sensor_of_topic

__all__ = ["Service", "serve"]

logger = logging.getLogger("streamlearn.service")


class Service:
    def __init__(self, cfg, backend=None):
        self.cfg = cfg
        self.router = Router(cfg, backend)
        self.queue = queue.Queue()
        self.stop_event = threading.Event()
        self.generation = 0
        self.connected = threading.Event()
        self.bad = collections.Counter()
        self.n_received = 0
        self.n_published = 0
        self.n_ignored = 0
        #: where the main thread's time goes (stats.json): batches, and seconds in each part
        self.timing = {"batches": 0, "parse_s": 0.0, "log_and_learn_s": 0.0,
                       "publish_and_ack_s": 0.0, "checkpoint_s": 0.0}
        self.n_connects = 0
        self.client = None
        self.horizon = int(cfg["model"].get("max_horizon", 12))
        #: retained: "online" once subscribed, "offline" (the will) when the service is gone
        self.status_topic = f"streamlearn/status/{cfg['broker']['client_id']}"

    # -- the MQTT client -----------------------------------------------------------

    def _make_client(self):
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        b = self.cfg["broker"]
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=b["client_id"],
                             clean_session=False, protocol=mqtt.MQTTv311, manual_ack=True)
        client.username_pw_set(b["username"])
        client.reconnect_delay_set(b["reconnect_min"], b["reconnect_max"])
        client.max_queued_messages_set(0)
        client.will_set(self.status_topic, json.dumps({"state": "offline"}), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(self, client, userdata, flags, reason, properties):
        if reason.is_failure:
            logger.warning("broker refused the connection: %s", reason)
            return
        self.generation += 1
        self.n_connects += 1
        client.subscribe([(t, 1) for t in self.cfg["broker"]["topics"]])
        client.publish(self.status_topic, json.dumps({"state": "online", "connects": self.n_connects}),
                       qos=1, retain=True)
        logger.info("connected to %s (session present: %s)", self.cfg["broker"]["url"],
                    flags.session_present)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason, properties):
        self.connected.clear()
        if not self.stop_event.is_set():
            logger.warning("lost the broker (%s); reconnecting with back-off", reason)

    def _on_message(self, client, userdata, msg):
        self.queue.put((self.generation, msg.mid, msg.qos, msg.topic, msg.payload))

    # -- the loop ------------------------------------------------------------------

    def _drain(self, timeout):
        limit = self.cfg["service"]["batch"]
        try:
            items = [self.queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        # gather what arrives within `linger` seconds of the first reading: fewer,
        # larger batches (one fsync per shard, one Dask call per shard) under load
        until = time.monotonic() + self.cfg["service"]["linger"]
        while len(items) < limit:
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                left = until - time.monotonic()
                if left <= 0:
                    break
                try:
                    items.append(self.queue.get(timeout=left))
                except queue.Empty:
                    break
        return items

    def handle(self, items):
        """Parse, log, learn, publish, acknowledge one batch of (gen, mid, qos, topic, payload)."""
        prefix = self.cfg["broker"]["sensor_prefix"]
        t0 = time.perf_counter()
        readings = []
        for _gen, _mid, _qos, topic, payload in items:
            if not self._subscribed(topic):  # amqtt may hand back our own retained status
                self.n_ignored += 1
                continue
            self.n_received += 1
            sensor = None
            try:
                sensor = sensor_of_topic(topic, prefix)
                value, features, seq = parse_reading(payload)
            except BadPayload as exc:
                self.bad[exc.reason] += 1
                logger.warning("bad payload from sensor %s: %s", sensor or topic, exc)
                continue
            readings.append((sensor, value, features, seq))
        t1 = time.perf_counter()
        results = self.router.process(readings)
        t2 = time.perf_counter()
        self.publish(results)
        client = self.client
        if client is not None:
            for gen, mid, qos, _topic, _payload in items:
                if qos and gen == self.generation:
                    client.ack(mid, qos)
        t3 = time.perf_counter()
        tm = self.timing
        tm["batches"] += 1
        tm["parse_s"] += t1 - t0
        tm["log_and_learn_s"] += t2 - t1
        tm["publish_and_ack_s"] += t3 - t2
        return results

    def _subscribed(self, topic):
        from paho.mqtt.client import topic_matches_sub

        return any(topic_matches_sub(f, topic) for f in self.cfg["broker"]["topics"])

    def publish(self, results):
        client = self.client
        if client is None:
            return
        b = self.cfg["broker"]
        H = self.horizon
        horizons = list(range(1, H + 1))
        for sensor, seq, n_steps, forecasts in results:
            body = json.dumps({"sensor": sensor, "seq": seq, "n_steps": n_steps,
                               "horizons": horizons, "forecast": forecasts})
            client.publish(f"{b['forecast_prefix']}/{sensor}", body, qos=b["forecast_qos"])
            self.n_published += 1

    def stats(self):
        st = self.router.stats()
        st.update(received=self.n_received, bad=sum(self.bad.values()),
                  bad_by_reason=dict(self.bad), published=self.n_published,
                  logged=self.router.n_logged, connects=self.n_connects,
                  ignored=self.n_ignored, timing=dict(self.timing))
        return st

    def _write_stats(self):
        import os
        path = os.path.join(self.router.folder, "stats.json")
        with open(path + ".tmp", "w") as f:
            json.dump(self.stats(), f)
        os.replace(path + ".tmp", path)

    def checkpoint(self):
        t = time.perf_counter()
        n = self.router.checkpoint()
        self.timing["checkpoint_s"] += time.perf_counter() - t
        self._write_stats()
        if n:
            logger.info("checkpoint: %d shard(s) in %.3f s", n, time.perf_counter() - t)

    def run(self, install_signals=True):
        """Serve until SIGTERM/SIGINT (or :attr:`stop_event`); returns 0."""
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop_event.set())
        t0 = time.perf_counter()
        replayed = self.router.start()
        logger.info("ready: %d reading(s) replayed from the logs in %.2f s",
                    len(replayed), time.perf_counter() - t0)
        self.client = self._make_client()
        b = self.cfg["broker"]
        self.client.connect_async(b["host"], b["port"], keepalive=b["keepalive"])
        self.client.loop_start()
        latest = {r[0]: r for r in replayed}  # the newest forecast of each replayed sensor
        self.publish(list(latest.values()))
        period = self.cfg["checkpoint"]["period"]
        stats_period = self.cfg["service"]["stats_period"]
        next_ckpt = time.monotonic() + period
        next_stats = time.monotonic() + stats_period
        try:
            while not self.stop_event.is_set():
                items = self._drain(0.1)
                if items:
                    self.handle(items)
                now = time.monotonic()
                if now >= next_ckpt:
                    self.checkpoint()
                    next_ckpt = now + period
                if now >= next_stats:
                    st = self.stats()
                    logger.info("stats: %d received, %d learned, %d duplicate, %d bad, "
                                "%d sensors", st["received"], st["learned"], st["duplicates"],
                                st["bad"], st["sensors"])
                    next_stats = now + stats_period
            # SIGTERM: what is queued is learned and acknowledged, then the final checkpoint
            while True:
                items = self._drain(0.0)
                if not items:
                    break
                self.handle(items)
            self.checkpoint()
            logger.info("stopped cleanly: final checkpoint written")
        finally:
            self.client.publish(self.status_topic, json.dumps({"state": "stopped"}), qos=1,
                                retain=True)
            self.client.disconnect()
            self.client.loop_stop()
            self.router.close()
        return 0


def serve(cfg):
    """Run the service described by a checked configuration (``config.load_config``)."""
    backend = None
    if cfg["dask"]["enabled"]:
        from .dask_shards import DaskShards
        backend = DaskShards(cfg)
    return Service(cfg, backend).run()
