"""storage/health/: What was found wrong and what was checked: the alarms raised and cleared
(alarms.py, their kinds declared in storage/alarm_kinds.py) and the inspection register's runs
(inspections.py); one table each, their schema in storage/schema/ (design/0014, design/0044, 0359).
"""
