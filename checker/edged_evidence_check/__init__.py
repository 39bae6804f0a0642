"""Check an edged evidence export without edged (design/0128, 0129): `edged-evidence-check DIR --ca F --crl F`."""
