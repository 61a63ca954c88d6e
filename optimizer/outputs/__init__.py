"""Run folders (atomic writes, tables, JSON, versions) and the lines `territory run` prints."""
