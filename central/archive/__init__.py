"""A closed month of the store out of it and back, and the SQLite store's backup (design/0120, design/0121)."""
