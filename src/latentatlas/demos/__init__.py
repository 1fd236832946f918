"""End-to-end demonstrations: each chains the ops on built-in data and writes a report."""
