"""storage/disk/: The data folder and its disk: the folder's layout, safe file writes and fsync,
hashing, the disk's identity, free space and the full-disk state, and a new data folder
(design/0017, design/0023, design/0058, design/0069).
"""
