"""A portable camera's recording taken into the box's custody (issue 76, design/0349): received
and hashed (take.py), remuxed in a process of its own (remux.py), recorded (store.py)."""
