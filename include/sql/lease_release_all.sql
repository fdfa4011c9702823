-- Releases every lease of the session (its connection serves nothing else).
SELECT pg_advisory_unlock_all()
