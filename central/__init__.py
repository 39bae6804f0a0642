"""edged-central: the central office's fleet verifier (design/0026-0028). Imports nothing from edged/."""
