"""`python -m web.keys create [--admin] TENANT | list | revoke KEY_ID`: manage API keys.

Finds the database as `make run` does: DATABASE_URL, else the embedded server in .pgdata.
"""

from __future__ import annotations

import argparse
import sys
import uuid

import psycopg

from infra.embedded_postgres import resolve_database_url
from migrations import apply_migrations
from store import tenants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m web.keys", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create a key for TENANT (the tenant too, if new)")
    create.add_argument("tenant")
    create.add_argument("--admin", action="store_true", help="the key may also use /admin/*")
    create.add_argument(
        "--scope",
        action="append",
        choices=tenants.SCOPES,
        help="admin, manage (default), invoke or read; repeat for several",
    )
    create.add_argument("--name", default=None, help="a label for the key")
    sub.add_parser("list", help="list keys (never the keys themselves)")
    revoke = sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)

    url = resolve_database_url()
    apply_migrations(url)
    with psycopg.connect(url, autocommit=True) as conn:
        if args.command == "create":
            try:
                key_id, key = tenants.create_key(
                    conn,
                    args.tenant,
                    name=args.name or f"{args.tenant} key",
                    admin=args.admin,
                    scopes=args.scope,
                )
            except ValueError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            kind = "admin key" if args.admin else "key"
            print(f"created {kind} {key_id} for tenant {args.tenant!r}; it is shown only once:")
            print(key)
        elif args.command == "list":
            print("\t".join(tenants.KEY_COLUMNS))
            for row in tenants.list_keys(conn):
                print("\t".join("" if v is None else str(v) for v in row))
        else:
            try:
                key_id = uuid.UUID(args.key_id)
            except ValueError:
                print(
                    f"error: {args.key_id!r} is not a key id (see python -m web.keys list)", file=sys.stderr
                )
                return 2
            if not tenants.revoke_key(conn, key_id):
                print(f"error: no active key {key_id}", file=sys.stderr)
                return 1
            print(f"revoked {key_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
