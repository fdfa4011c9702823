"""Airflow plugin: the Meta CAPI health page in the API server (/konektor-capi/) and the UI's navigation.

The one file of this folder Airflow imports as a plugin (see .airflowignore): wiring only. The Docker
image copies it into /opt/airflow/plugins.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from konektor_capi_health.app import PREFIX, create_app


class KonektorCapiHealthPlugin(AirflowPlugin):
    name = "konektor_capi_health"
    fastapi_apps = [{"app": create_app(), "url_prefix": PREFIX, "name": "Meta CAPI health"}]
    # With url_route, the UI shows the page inside itself (an iframe) at /plugin/meta-capi-health.
    external_views = [{"name": "Meta CAPI health", "href": f"{PREFIX}/", "url_route": "meta-capi-health",
                       "destination": "nav"}]  # fmt: skip
