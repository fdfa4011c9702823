-- Whether sync_logs has a column (a newer version adds some): the page shows what needs it only then.
SELECT EXISTS (SELECT 1 FROM pg_attribute
               WHERE attrelid = to_regclass('sync_logs') AND attname = %(column)s AND NOT attisdropped)
