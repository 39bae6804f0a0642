"""storage/keys/: Keys and what they sign: the node's key and its certificate from the office's CA, the
audit chain's signed heads and the fleet's key list from the central office (design/0011,
design/0026, design/0065, design/0097).
"""
