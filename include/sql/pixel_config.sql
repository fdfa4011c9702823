-- One pixel's sending configuration. The token is read here, in the task that sends, and nowhere else.
SELECT p.pixel_id, p.workspace_id, p.capi_access_token, p.test_event_code, p.whatsapp_business_account_id
FROM meta_pixels p
WHERE p.pixel_id = %(pixel_id)s AND p.enabled
ORDER BY p.id
LIMIT 1
