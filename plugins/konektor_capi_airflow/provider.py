"""Provider metadata: the `apache_airflow_provider` entry point of the konektor-capi-sync package.

Airflow's ProvidersManager loads `get_provider_info()` from every installed distribution that declares
the entry point (pyproject.toml), validates it against `airflow/provider_info.schema.json` and requires
"package-name" to equal the distribution's name. "connection-types" gives the UI the `meta_capi` type,
its form (Airflow 3.2+: declared here as "conn-fields" and "ui-field-behaviour", not in hook methods)
and the hook whose `test_connection()` serves the Test button.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

PACKAGE_NAME = "konektor-capi-sync"
HOOK_CLASS = "konektor_capi_airflow.hooks.MetaCapiHook"
CONN_TYPE = "meta_capi"


def _version() -> str:
    try:
        return version(PACKAGE_NAME)
    except PackageNotFoundError:  # imported from a checkout that is not installed
        return "0.0.0"


def get_provider_info() -> dict:
    return {
        "package-name": PACKAGE_NAME,
        "name": "Konektor CAPI sync",
        "description": "Sends Konektor's CRM lead conversions to Meta's Conversions API; "
        "provides the meta_capi connection type and its Test button.",
        "versions": [_version()],
        "integrations": [
            {
                "integration-name": "Meta Conversions API",
                "external-doc-url": "https://developers.facebook.com/docs/marketing-api/conversions-api",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": "Meta Conversions API", "python-modules": ["konektor_capi_airflow.hooks"]}
        ],
        "connection-types": [
            {
                "hook-class-name": HOOK_CLASS,
                "hook-name": "Meta Conversions API",
                "connection-type": CONN_TYPE,
                "conn-fields": {
                    "api_version": {
                        "label": "Graph API version",
                        "schema": {"type": ["string", "null"], "default": "v25.0"},
                        "description": "e.g. v25.0",
                    },
                    "test_pixel_id": {
                        "label": "Test pixel id",
                        "schema": {"type": ["string", "null"]},
                        "description": "With a token in 'Test access token', the Test button checks that "
                        "the token can read this pixel. The sync reads tokens from Konektor, not from here.",
                    },
                    "connect_timeout": {
                        "label": "Connect timeout (s)",
                        "schema": {"type": ["number", "null"], "default": 3},
                    },
                    "read_timeout": {
                        "label": "Read timeout (s)",
                        "schema": {"type": ["number", "null"], "default": 10},
                    },
                    "max_in_flight": {
                        "label": "Requests in flight per task",
                        "schema": {"type": ["integer", "null"], "default": 8, "minimum": 1},
                        "description": "At most this many requests to Meta at once per sync task; "
                        "Meta's throttling lowers it for a while.",
                    },
                    "delivery": {
                        "label": "Deliver from",
                        "schema": {
                            "type": ["string", "null"],
                            "default": "auto",
                            "enum": ["auto", "thread", "process", None],
                        },
                        "description": "auto: a child process for large groups (fastest when Meta "
                        "answers fast); thread: always the task's process (less CPU and memory with "
                        "Meta's usual round trip); process: always a child process.",
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {"host": "Graph API base URL", "password": "Test access token"},
                    "placeholders": {
                        "host": "https://graph.facebook.com",
                        "password": "a pixel's CAPI token, only for the Test button",
                    },
                },
            }
        ],
    }
