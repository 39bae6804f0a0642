"""storage/time/: Time: the one clock (read nowhere else, design/0034), the trust edged places in it
(design/0059), which of the catalog's columns are stamped on the host clock (design/0096; their
correction after a step is storage/footage/corrections.py), whether a source outside the box
corroborates it (design/0095), the one duration grammar shared with edged-central (issue 41) and
the ROC calendar's dates for the forms. It imports no other room of storage/.
"""
