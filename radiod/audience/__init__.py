# -*- test-case-name: tests.audience -*-
"""
The audience: every listener session, kept in a database, and the figures
stations report from them (sessions, unique listeners, listening hours,
average quarter-hour listeners, cume, time spent listening).
"""
