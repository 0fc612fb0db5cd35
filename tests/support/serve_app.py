"""Serve a test app in a child process: ``python -m tests.support.serve_app``.

Prints ``LISTENING <port>`` once the socket is bound, then serves until
killed. The app comes from a factory ``module:function`` called with the
async mode and the JSON options.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", required=True, help="module:factory")
    parser.add_argument("--mode", required=True)
    parser.add_argument("--options", default="{}")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--http-timeout", type=float, default=60.0)
    args = parser.parse_args()

    if os.environ.get("REALTIME_TEST_MONKEY_PATCH"):
        if args.mode == "eventlet":
            import eventlet

            eventlet.monkey_patch()
        elif args.mode == "gevent":
            from gevent import monkey

            monkey.patch_all()
    logging.basicConfig(
        level=os.environ.get("REALTIME_TEST_LOG_LEVEL", "WARNING"),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    module_name, factory_name = args.app.split(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    app = factory(args.mode, **json.loads(args.options))

    import realtime

    server = realtime.make_server(
        app, "127.0.0.1", args.port, args.mode, http_timeout=args.http_timeout
    )
    print(f"LISTENING {server.address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
