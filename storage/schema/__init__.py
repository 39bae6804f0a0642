"""storage/schema/: The catalog's schema: its history, one migration at a time (migrations.py),
the bodies of its long steps frozen with them (segments.py m013/m021/m022, people.py m005,
identity.py m019), and today's schema as one text (today.py: docs/ref/catalog-schema.md, generated).

Must not import: any other room of storage/ (tests/test_layers.py). storage/catalog.py applies the
migrations, so the schema stands below every table room that reads the catalog.
"""
