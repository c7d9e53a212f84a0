"""The operator's commands beyond running the pipeline: broker and topic checks before a process
starts, the broker's view of the topics, dead-letter handling and time-range replay.

Each command lives in its own module; :mod:`streams.cli` registers them.
"""
