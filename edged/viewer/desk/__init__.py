"""The web desk (design/0073): server-rendered pages, served by the viewer under /desk/, each a
thin edge over one control operation run with the web session's account and roles.

app.py       the session, CSRF, language and role check every page goes through; login, home
page.py      the page frame and the small HTML builders (every value escaped, texts via gettext)
requests.py  the clerk's and the approvers' pages: file, follow, decide, print
accounts.py  the admin's pages and everyone's password change (the first login's too)
"""
