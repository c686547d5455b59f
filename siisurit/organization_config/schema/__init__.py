"""Validation of organization configuration files: structure (validation.py) and references to the database."""
