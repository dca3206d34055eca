"""Real-time matching: one record at a time against the whole store."""
