"""The office's keys (design/0097, design/0131): its CA, the register of enrolments, the revocation list,
the fleet's key list, a node's standing, and `edged-central nodes`."""
