"""What comes in (design/0027): the broker's subscription (a session, a dead member's session taken
over, each instance's share of the nodes), and what a node's message must pass before the store keeps it
(its form, a plausible seq, its quota). The thread that runs it is central/ingest.py."""
