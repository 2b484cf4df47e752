"""Annotation formats: read (and write) label files."""
