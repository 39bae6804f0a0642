"""The states a retrieval request's row can have, named only here (design/0033); the rules that
move a request between them are edged/rules/retrieval.py. The table: storage/people/retrieval_store.py."""

FILED, APPROVED, REJECTED, USED, LAPSED = "filed", "approved", "rejected", "used", "lapsed"
REQUEST_STATES = (FILED, APPROVED, REJECTED, USED, LAPSED)
