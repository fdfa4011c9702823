-- Every enabled (workspace, pixel) row with the token that workspace's events are sent with: two
-- workspaces may hold different tokens for one pixel id, and each is checked.
SELECT workspace_id, pixel_id, capi_access_token
FROM meta_pixels
WHERE enabled
ORDER BY pixel_id, workspace_id, id
