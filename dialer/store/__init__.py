"""The local SQLite store (aiosqlite): one file, WAL, encrypted numbers, hash-chained audit."""
