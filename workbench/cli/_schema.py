"""``workbench schema``: the experiment spec's JSON schema, with which editors check experiment files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _cmd_schema(args: argparse.Namespace) -> int:
    from workbench.spec import experiment_json_schema

    text = json.dumps(experiment_json_schema(), indent=2) + "\n"
    if args.output == "-":
        print(text, end="")
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0
