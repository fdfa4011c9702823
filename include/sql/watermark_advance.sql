-- Never moves backwards: a rerun of an old run must not undo a newer run's progress.
INSERT INTO sync_watermark AS w (name, watermark) VALUES (%(name)s, %(watermark)s)
ON CONFLICT (name) DO UPDATE SET watermark = greatest(w.watermark, excluded.watermark), updated_at = now()
