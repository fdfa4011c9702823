"""The Meta CAPI health page: a FastAPI app the Airflow API server mounts at /konektor-capi/ (the plugin in
plugins/konektor_capi_health_plugin.py). The numbers come from konektor_capi.health."""
