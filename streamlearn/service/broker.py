"""A local MQTT broker for the service, its tests and its demo: amqtt, bound to 127.0.0.1.

    python -m streamlearn.service.broker --port 1883

runs `amqtt <https://github.com/Yakifo/amqtt>`_ (a maintained, pure-Python
MQTT 3.1.1 broker from PyPI) with this configuration:

- one TCP listener on ``127.0.0.1:PORT`` (never another interface);
- clients must give a user name (no password check: the broker is local).
  amqtt keeps no session for an anonymous client, so without a user name a
  persistent session (``clean_session=False``) would not queue the readings
  published while the service is down;
- one fix, applied to amqtt's protocol handler at start: amqtt drops a QoS 1
  message it has sent to a subscriber when the connection is lost before the
  subscriber's PUBACK (and after 5 s without one), instead of sending it again
  when the session reconnects, as MQTT 3.1.1 section 4.4 requires. With the
  fix it keeps the message in the session and re-sends it (DUP set) on
  reconnection, which is what makes a SIGKILL of the service lose nothing
  (docs/service.md, "Guarantees"). :func:`patch_amqtt` is that fix.

Messages queued for a disconnected session live in the broker's memory: a
broker restart loses them (docs/service.md says so).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

__all__ = ["broker_config", "patch_amqtt", "run_broker", "main"]


def broker_config(port, host="127.0.0.1"):
    """amqtt's configuration: one listener on ``host:port``, named users only."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{int(port)}"}},
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False},
        },
    }


_PATCHED = False


def patch_amqtt():
    """Make amqtt re-send unacknowledged QoS 1 messages on reconnection (MQTT-4.4.0-1)."""
    global _PATCHED
    if _PATCHED:
        return
    from amqtt.mqtt.constants import QOS_1
    from amqtt.mqtt.protocol import handler as H

    needed = ("_handle_qos1_message_flow", "_retry_deliveries", "_send_packet",
              "_puback_waiters")
    missing = [n for n in needed[:3] if not hasattr(H.ProtocolHandler, n)]
    if missing:  # amqtt changed: say so rather than run without the fix
        raise RuntimeError(f"this amqtt has no ProtocolHandler.{missing[0]}: the QoS 1 "
                           "redelivery fix cannot be applied (setup.cfg pins amqtt<0.13)")
    original = H.ProtocolHandler._handle_qos1_message_flow

    async def qos1_flow(self, app_message):
        if app_message.direction != H.OUTGOING or app_message.qos != QOS_1 \
                or app_message.packet_id is None or self.session is None:
            return await original(self, app_message)
        if app_message.puback_packet:
            return None
        pid = app_message.packet_id
        self.session.inflight_out[pid] = app_message  # kept until its PUBACK arrives
        packet = app_message.build_publish_packet(dup=app_message.publish_packet is not None)
        waiter = asyncio.get_running_loop().create_future()
        self._puback_waiters[pid] = waiter
        try:
            await self._send_packet(packet)
            app_message.publish_packet = packet
            app_message.puback_packet = await waiter  # no timeout: re-sent on reconnection
        finally:
            if self._puback_waiters.get(pid) is waiter:
                self._puback_waiters.pop(pid, None)
        self.session.inflight_out.pop(pid, None)
        return None

    async def retry_deliveries(self):
        # re-send in the order they were first sent, one after the other
        for message in list(self.session.inflight_in.values()) + list(self.session.inflight_out.values()):
            asyncio.ensure_future(self._handle_message_flow(message))

    H.ProtocolHandler._handle_qos1_message_flow = qos1_flow
    H.ProtocolHandler._retry_deliveries = retry_deliveries
    _PATCHED = True


async def _serve(port, host, ready):
    from amqtt.broker import Broker

    patch_amqtt()
    broker = Broker(broker_config(port, host))
    await broker.start()
    print(f"broker: listening on mqtt://{host}:{port}", flush=True)
    if ready is not None:
        ready.set()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    try:
        await stop.wait()
    finally:
        await broker.shutdown()


def run_broker(port, host="127.0.0.1"):
    """Run the broker until SIGTERM or SIGINT."""
    logging.getLogger("amqtt").setLevel(logging.WARNING)
    logging.getLogger("transitions").setLevel(logging.WARNING)
    asyncio.run(_serve(port, host, None))


def main(argv=None):
    from ..cliargs import ArgumentParser, positive_int

    parser = ArgumentParser(prog="python -m streamlearn.service.broker",
                            description="A local MQTT broker (amqtt) on 127.0.0.1 for "
                                        "`streamlearn serve` (docs/service.md).")
    parser.add_argument("--port", type=positive_int, default=1883, help="TCP port (default 1883)")
    args = parser.parse_args(argv)
    run_broker(args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
