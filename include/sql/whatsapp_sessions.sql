-- The WhatsApp numbers of the given workspaces and their WABAs, oldest session first so that two
-- sessions on one number resolve the same way on every run.
SELECT s.id, s.workspace_id, s.phone_number, s.whatsapp_business_account_id AS waba_id, w.default_country
FROM whatsapp_sessions s
JOIN workspaces w ON w.id = s.workspace_id
WHERE s.workspace_id = ANY(%(workspace_ids)s::bigint[])
ORDER BY s.id
