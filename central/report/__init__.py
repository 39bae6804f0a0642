"""A site's month (design/0117): gathered from the store, judged (compliance.py), rendered, and written
as `edged-central report`'s files."""
