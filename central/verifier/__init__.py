"""The verifier's I/O shell (design/0026, design/0137): a node's messages read from the store in seq
order, fed to the pure checks (central/checks/), its conclusions written back; and `verify-log`."""
