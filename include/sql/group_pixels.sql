-- The pixels of a group's workspaces, keyed by meta_pixels.id (what the extract's pixel_keys list), with
-- what sending needs. Disabled rows too: a pixel disabled after the extract read it still resolves.
-- The token is read here, in the task that sends, and nowhere else.
SELECT p.id AS pixel_key, p.pixel_id, p.workspace_id, p.capi_access_token, p.test_event_code,
       p.whatsapp_business_account_id AS pixel_waba_id, p.enabled
FROM meta_pixels p
WHERE p.workspace_id = ANY(%(workspace_ids)s::bigint[])
ORDER BY p.id
