"""The daemon's control socket (edged/control/server.py) and the operations it serves, one module
per group: reads, holds and maintenance, health and inspections, people, export."""
