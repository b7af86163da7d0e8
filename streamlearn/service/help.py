"""The text of ``streamlearn serve --help`` after the options: every key of the YAML file."""

SERVE_EPILOG = """\
The YAML file (every key optional; defaults shown; docs/service.md):

  broker:
    url: mqtt://127.0.0.1:1883      # the broker (start one: python -m streamlearn.service.broker)
    client_id: streamlearn-service  # fixed: the broker keeps this persistent session
    username: streamlearn           # a named user (the broker keeps no session for anonymous ones)
    topics: [sensors/#]             # topic filters, subscribed at QoS 1
    sensor_prefix: sensors          # sensors/<id>/<quantity> -> learner "<id>/<quantity>"
    forecast_prefix: forecasts      # forecasts go to forecasts/<id>/<quantity>
    forecast_qos: 0                 # QoS of the forecasts published (0 or 1)
    keepalive: 30                   # seconds
    reconnect_min: 0.5              # back-off between reconnection attempts, seconds,
    reconnect_max: 30.0             #   doubling from min to max
  model:                            # keyword arguments of streamlearn.RNNForecaster
    max_horizon: 6                  #   forecasts 1..max_horizon steps ahead
    n_hidden: 32
    seed: 0                         # a sensor's seed is crc32("<seed>/<sensor id>")
  checkpoint:
    dir: service-state              # checkpoints (shard-NNN.ckpt), logs (shard-NNN.log), stats.json
    period: 30.0                    # seconds between checkpoints; the logs are truncated after each
    fsync_log: true                 # fsync the log once per batch before acknowledging it
  service:
    batch: 500                      # most readings handled (logged, learned, acknowledged) at once
    linger: 0.02                    # seconds a batch waits for more readings after its first
    stats_period: 10.0              # seconds between the stats lines on stderr
  dask:
    enabled: false                  # shards on Dask workers instead of in this process
    scheduler: null                 # a scheduler address (tcp://host:8786), or null for a
                                    #   LocalCluster on 127.0.0.1 with n_workers processes
    n_workers: 2
    n_shards: 8                     # a sensor's shard is crc32(id) % n_shards; keep it fixed

The service publishes its state, retained, on streamlearn/status/<client_id>:
{"state": "online"} once subscribed, "offline" if it vanished, "stopped" after SIGTERM.

A reading is a JSON object on sensors/<id>/<quantity>:
  {"value": 21.5, "seq": 1041, "features": {"humidity": 40.0}, "timestamp": 1764650000}
value is required (a finite number); seq (an integer per sensor, increasing) is what
makes redelivered and replayed readings harmless; without it the timestamp is used,
and without both the service numbers the readings in the order the broker delivers
them (then a reading redelivered after a crash may be learned twice). A forecast is
  {"sensor": "<id>/<quantity>", "seq": 1041, "n_steps": 1042, "horizons": [1, ...],
   "forecast": [21.7, ...]}
"""
