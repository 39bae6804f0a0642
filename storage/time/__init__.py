"""storage/time/: Time: the one clock (read nowhere else, design/0034), the trust edged places in it
(design/0059), what the catalog stamps on the host clock and its correction after a step
(design/0096), whether a source outside the box corroborates it (design/0095), the one
duration grammar shared with edged-central (issue 41) and the ROC calendar's dates for the forms.
"""
