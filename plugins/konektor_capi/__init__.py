"""Core of konektor-capi-sync: plain Python and pandas, no Airflow imports."""
