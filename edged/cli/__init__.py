"""The command lines: `edged` (edged/cli/main.py: run, check-config, init-data) and `edgectl`
(edged/cli/edgectl.py and one module per verb group). edgectl only talks to the daemon's control
socket (edged/control/), apart from the standalone checks that need no daemon."""
