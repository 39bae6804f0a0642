"""The pure rules: plain functions over plain data, no I/O. Camera health, who may do what (roles),
retrieval requests, inspections."""
