"""The run store: every audit run, its inputs' digests and findings, in SQLite or PostgreSQL."""
