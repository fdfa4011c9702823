-- Every enabled pixel with the token it sends with: per pixel id, its first enabled row.
SELECT DISTINCT ON (pixel_id) pixel_id, capi_access_token
FROM meta_pixels
WHERE enabled
ORDER BY pixel_id, id
