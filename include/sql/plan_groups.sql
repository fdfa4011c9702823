-- What a run has to do, small enough for XCom: per workspace, how many (change, pixel) pairs it still
-- owes (owed_pairs.sql; workspace_ids NULL: every workspace).
WITH
-- @include owed_pairs
SELECT workspace_id, count(*) AS n
FROM owed
GROUP BY workspace_id
ORDER BY workspace_id
