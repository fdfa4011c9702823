"""Writes the `.env` that docker-compose.yaml requires: fresh secrets, and with --dev the stand-ins.

Existing values are kept (run it again after a pull: it only adds what is missing), the file is
readable by its owner only, and no secret is printed.

    python3 -m devtools.compose_env          # secrets; then set the two AIRFLOW_CONN_* yourself
    python3 -m devtools.compose_env --dev    # secrets and the dev profile's konektor-db and emulator
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

DEV_CONNECTIONS = {
    "AIRFLOW_CONN_KONEKTOR_DB": "postgresql://konektor:konektor-dev-pw@konektor-db:5432/konektor",
    "AIRFLOW_CONN_META_CAPI": "meta-capi://graph-emulator:8765/http?api_version=v25.0",
}


def fresh_secrets() -> dict[str, str]:
    return {
        # Fernet wants 32 url-safe base64-encoded bytes.
        "AIRFLOW_FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(48),
        "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(48),
        "_AIRFLOW_WWW_USER_PASSWORD": secrets.token_urlsafe(18),
    }


def read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.lstrip().startswith("#"):
                values[key.strip()] = value
    return values


def write_env(path: Path, dev: bool) -> list[str]:
    """Adds the missing variables to `path`; returns the names it added."""
    existing = read_env(path)
    wanted = {**fresh_secrets(), **(DEV_CONNECTIONS if dev else {})}
    added = {k: v for k, v in wanted.items() if k not in existing}
    if added:
        text = path.read_text() if path.exists() else ""
        if text and not text.endswith("\n"):
            text += "\n"
        text += "".join(f"{k}={v}\n" for k, v in added.items())
        path.write_text(text)
    path.chmod(0o600)
    return list(added)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dev", action="store_true", help="also point the connections at the dev stand-ins")
    parser.add_argument("--path", type=Path, default=REPO / ".env")
    args = parser.parse_args(argv)
    added = write_env(args.path, args.dev)
    print(f"{args.path}: " + (f"added {', '.join(added)}" if added else "nothing missing"))
    missing = [k for k in DEV_CONNECTIONS if k not in read_env(args.path)]
    if missing:
        print(f"set {' and '.join(missing)} in {args.path} before `docker compose up`", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
