"""Imitations of the tracker APIs, one module per kind."""
