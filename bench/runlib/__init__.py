"""Helpers of bench/run: processes and /proc readers (procs), the servers it
starts (servers), statistics (stats), the Markdown summary (report) and the
SVG chart (svg). Standard library only."""
