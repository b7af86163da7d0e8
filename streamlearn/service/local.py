"""Start and stop local processes on 127.0.0.1: the broker, the service (tests, demo)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

__all__ = ["free_port", "wait_for_port", "start_broker", "start_service", "stop_process",
           "mqtt_client"]


def free_port():
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=30.0, proc=None):
    """Wait until something listens on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process exited with code {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _env():
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def start_broker(port, log=None):
    """The amqtt broker (``streamlearn.service.broker``) on 127.0.0.1:port, listening."""
    proc = subprocess.Popen([sys.executable, "-m", "streamlearn.service.broker", "--port", str(port)],
                            stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            env=_env())
    try:
        wait_for_port(port, 60, proc)
    except BaseException:
        stop_process(proc)
        raise
    return proc


def start_service(config_path, log=None, level="info"):
    """``streamlearn serve --config config_path`` as a child process."""
    return subprocess.Popen([sys.executable, "-m", "streamlearn", "serve", "--config",
                             os.fspath(config_path), "--log-level", level],
                            stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            env=_env())


def stop_process(proc, sig=signal.SIGTERM, timeout=30.0):
    """Send ``sig``, wait, SIGKILL if it does not end; returns the exit code."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def mqtt_client(port, client_id, *, username=None, on_message=None, subscribe=(),
                clean_session=True, manual_ack=False, inflight=None, queued=None,
                reconnect=None):
    """A started paho client on 127.0.0.1:port (tests, benchmarks, the demo).

    ``subscribe`` is a list of (topic, qos), subscribed on every connect.
    amqtt keeps no session for an anonymous client, so the client always
    names a user (``username``, default the client id). ``inflight`` and
    ``queued`` set paho's limits (0: none), ``reconnect`` its (min, max)
    back-off in seconds.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                    clean_session=clean_session, manual_ack=manual_ack)
    c.username_pw_set(username or client_id)
    if inflight is not None:
        c.max_inflight_messages_set(inflight)
    if queued is not None:
        c.max_queued_messages_set(queued)
    if reconnect is not None:
        c.reconnect_delay_set(*reconnect)
    if on_message is not None:
        c.on_message = on_message
    if subscribe:
        topics = list(subscribe)
        c.on_connect = lambda client, *a: client.subscribe(topics)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c
