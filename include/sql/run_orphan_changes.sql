-- Mapped status changes of the run's window whose lead no longer exists (deleted; Konektor's database
-- may lack the schema copy's foreign key, or soft-delete). Without the lead there is no workspace, hence
-- no pixel that the change owes an event: nothing is sent or recorded; the run's summary counts them.
SELECT count(*)
FROM lead_status_changes c
WHERE c.changed_at > %(window_start)s
  AND c.changed_at <= %(window_end)s
  AND (c.to_status = ANY(%(statuses)s::text[]) OR lower(btrim(c.to_status)) = ANY(%(statuses)s::text[]))
  AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.id = c.lead_id)
