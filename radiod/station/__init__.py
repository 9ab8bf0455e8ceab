"""
The process around the station: assembling the services from the
configuration, the command-line options, the listening ports, worker
processes and the feed between them, the steady clock and the JSON log.

It may import every other part of radiod.
"""
