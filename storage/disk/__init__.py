"""storage/disk/: The data folder and its disk: the folder's layout, safe file writes and fsync,
hashing, the disk's identity, free space and the full-disk state (design/0017, design/0058,
design/0069). A new data folder is storage/datainit.py (design/0023), above the catalog and the
keys it makes.
"""
