"""storage/process/: How a process of edged makes itself known to the person reading the box: its
log lines' journal fields and set-up (logs.py, design/0008) and its threads' names for the OS, in
top and the journal (threadname.py, design/0056); every process imports them, the daemon's, a
recorder worker's and the office's alike (design/0359).
"""
