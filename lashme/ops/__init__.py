"""Operations: settings, database engine and sessions, logging, health probes, launcher, private Redis.

The bottom layer: imports no other ``lashme`` package (but ``lashme.models`` for table metadata).
"""
