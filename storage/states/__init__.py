"""The state vocabularies of the catalog's rows, one leaf module per table (design/0033, design/0068).

Each module here names the states a row can have and imports nothing, so the pure rules
(edged/rules/) can speak of a camera that is recording or a hold that is pending without
loading sqlite_utils or the catalog. The table modules (storage/cameras.py,
storage/retention/holds.py, storage/people/retrieval_store.py) read and write the rows.

Must not import: anything (tests/test_layers.py).
"""
