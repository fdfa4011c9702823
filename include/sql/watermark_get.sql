SELECT watermark FROM sync_watermark WHERE name = %(name)s
