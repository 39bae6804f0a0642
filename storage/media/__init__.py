"""The media workers started as the media user (design/0323): who that user is and what it may
reach (user.py), and the entry systemd or the daemon starts a worker through (entry.py)."""
