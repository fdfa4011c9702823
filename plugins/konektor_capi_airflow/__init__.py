"""The Airflow side of konektor-capi-sync: connections, task bodies, secret masking.

The only package that imports Airflow.
"""
