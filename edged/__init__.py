"""edged: evidence-grade CCTV recorder."""
__version__ = "0.1.0"
