"""edged-central: the central office's fleet verifier (design/0026-0028). Imports nothing from edged/.

Rooms, by what the office does (issue 57, design/0288): checks/ (the pure checks of a node's
messages, each returning findings), intake/ (the subscription, a dead member's session taken over,
each instance's share of the nodes, and what a message must pass: its form, a plausible seq, its
quota), keys/ (the CA, its register, the revocation list, the fleet's keys, `nodes`), store/ (the
only code that knows the store's SQL, on SQLite and PostgreSQL, its schema and migrations),
archive/ (a month archived and restored, the backup), verifier/ (the verifier's shell,
`verify-log`), report/ (a site's month, gathered, judged, rendered), pages/ (the dashboard).
Loose: cli.py and cli_store.py (`edged-central`), config.py and config_secrets.py, ingest.py
(`run`'s threads: the subscriber, the store, the verifier), ops.py (an instance's figures), i18n.py
(with locale/), finding_words.py, login.py, apt_repo.py.

The rooms stand on floors (tests/test_layers.py CENTRAL_FLOORS, design/0288): the leaves (the
words' domain, the accounts); the findings' words and the checks; the intake and the keys; the
store; what works over it (the config, the archive, the verifier, an instance's figures); the
report, `run`'s threads and the store's verbs; the dashboard; the command line. A room imports only
rooms on floors below its own, with no exception.
"""
