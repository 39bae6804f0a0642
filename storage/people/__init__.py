"""storage/people/: The people's tables: accounts and their sessions, retrieval requests and their
grants (their schema is storage/schema/people.py; design/0009, design/0010, design/0019). Personal data lives
here and nowhere else in the catalog; a purge (design/0019) touches only these modules' tables.
"""
