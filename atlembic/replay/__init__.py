"""The migration directory on a dev database: the replay cache's entries (cache.py), the one cached replay
(replayed.py) and a dev database started only when a replay needs it (lazy.py)."""
