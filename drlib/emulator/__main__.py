"""``python -m drlib.emulator serve``: the background emulator's process entry point."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from drlib.emulator.daemon import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m drlib.emulator")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--state-dir", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    serve(port=args.port, state_dir=args.state_dir)


if __name__ == "__main__":
    main()
