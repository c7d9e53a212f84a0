"""Development tools, apart from the runtime: what a developer runs, never a production process.

- :mod:`~streams.devtools.broker`: the local Kafka broker launcher (``prismaflow broker``; the
  test suite and the demo start their broker with it);
- :mod:`~streams.devtools.registry`: the local Schema Registry launcher (``prismaflow registry``);
- :mod:`~streams.devtools.local_process`: what both launchers share (pid files, ports);
- :mod:`~streams.devtools.compat`: the Avro schema compatibility checker the schema tests run;
- :mod:`~streams.devtools.bench` and :mod:`~streams.devtools.bench_faust`: the stream-core
  benchmark (``prismaflow bench``, ``make bench``);
- :mod:`~streams.devtools.chaos`: the fault campaign (``prismaflow chaos``, ``make chaos``).

The CLI imports them only inside the command that runs them, so ``prismaflow run`` never loads
them; their third-party dependencies are the ``bench`` and ``dev`` extras of ``pyproject.toml``,
not runtime dependencies (``tests/test_dependencies.py`` checks the split).
"""
