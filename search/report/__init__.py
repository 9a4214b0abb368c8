"""The study report: an HTML page and a Markdown summary."""
