"""Put first on the ``PYTHONPATH`` of a local Ray instance's processes: its ``sitecustomize`` defers the slow imports
``workbench._imports`` defers, before the process imports ``ray`` (see ``workbench.execution._ray``)."""
