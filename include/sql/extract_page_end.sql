-- Where a page of extract_changes.sql ended: the last (changed_at, id) of that page of changes.
SELECT changed_at, id FROM (
    SELECT c.changed_at, c.id
    FROM lead_status_changes c
    WHERE c.changed_at > %(window_start)s
      AND c.changed_at <= %(window_end)s
      AND (c.changed_at, c.id) > (%(after_changed_at)s::timestamptz, %(after_id)s::bigint)
      AND c.to_status = ANY(%(statuses)s::text[])
    ORDER BY c.changed_at, c.id
    LIMIT %(page_size)s
) page
ORDER BY changed_at DESC, id DESC
LIMIT 1
