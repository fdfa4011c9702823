"""The Airflow side of konektor-capi-sync: connections, secret masking. The only package that imports Airflow."""
