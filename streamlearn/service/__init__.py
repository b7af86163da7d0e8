"""The live sensor service (``streamlearn serve``): MQTT in, forecasts out,
checkpointed, optionally sharded over Dask workers. See docs/service.md.

Modules: ``config`` (the YAML file), ``payload`` (a reading off the wire),
``shard`` (the learners of a set of sensors), ``log`` (the durable replay log),
``engine`` (the router), ``server`` (the MQTT loop), ``dask_shards`` (shards on
Dask workers), ``broker`` (a local amqtt broker), ``local`` (process helpers).
The MQTT and Dask packages are imported only by the modules that use them.
"""
