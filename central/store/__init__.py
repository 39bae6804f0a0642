"""The office's store (design/0027): the only code that knows its SQL, on SQLite (store.py) and on
PostgreSQL (the pg*.py adapter), its schema, its versions and `edged-central migrate`."""
