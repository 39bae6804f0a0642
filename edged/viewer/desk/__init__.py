"""The web desk (design/0073): server-rendered pages, served by the viewer under /desk/, each a
thin edge over one control operation run with the web session's account and roles.

app.py       the session, CSRF, language and role check every page goes through; login
routes.py    the pages' table: each module's add_routes, which the viewer hands to app.py
page.py      the page frame and the small HTML builders (every value escaped, texts via gettext)
home.py      the home page: what waits for your sign-off, and the way into each page
requests.py  the clerk's and the approvers' pages: file, follow, decide, print
accounts.py  the admin's pages and everyone's password change (the first login's too)
holds.py     the custodian's holds and the approvers' decisions on them
inspections.py  run, sign, countersign an inspection; the month's register printed
cameras.py   the cameras' state and the open alarms (read-only, within the account's cameras)
exports.py   the signed export from a copy grant, downloaded once as a ZIP
audit.py     the auditor's log, the chain check and the printed audit report
timeline.py  a camera's day as bands (built by the pure bands.py); a range leads to the forms
"""
