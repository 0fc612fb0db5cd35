"""``python -m realtime.push``: make an application server key pair for Web Push.

Writes the private key as PEM to the file given with ``--out`` (mode 0600),
or prints it, and prints how to configure the server and what the browser
subscribes with.
"""

from __future__ import annotations

import argparse
import os
import sys

from realtime.push.keys import VapidKey


def main(argv: list[str] | None = None) -> int:
    """Make a key pair and print the configuration; the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m realtime.push",
        description="Make a VAPID key pair (P-256) for realtime's Web Push.",
    )
    parser.add_argument("--out", help="write the private key to this PEM file (not overwritten)")
    parser.add_argument(
        "--subject", default="mailto:ops@example.com", help="your contact URL (mailto: or https:)"
    )
    args = parser.parse_args(argv)
    key = VapidKey.generate()
    if args.out:
        try:
            fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            print(f"{args.out} exists: not overwritten", file=sys.stderr)
            return 1
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(key.pem())
        where = repr(args.out)
        print(f"Private key written to {args.out}. Keep it secret; keep it for good:")
        print("subscriptions made with its public key work only with it.\n")
    else:
        where = repr(key.private_key)
        print("Private key (keep it secret, and keep it: subscriptions made with its")
        print(f"public key work only with it):\n\n  {key.private_key}\n")
        print(key.pem())
    print("Configuration (Flask):\n")
    print(f'  SocketIO(app, web_push={{"private_key": {where}, "subject": "{args.subject}"}})\n')
    print("or, without Flask:\n")
    print(f'  WebPush(private_key={where}, subject="{args.subject}")\n')
    print(
        f"Public key (applicationServerKey, also socketio.push.public_key):\n\n  {key.public_key}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
