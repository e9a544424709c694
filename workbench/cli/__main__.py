"""``python -m workbench.cli ARGS``: the ``workbench`` command (the Makefile, benchmarks and tests run it this way)."""

from workbench.cli import console

if __name__ == "__main__":
    console()
