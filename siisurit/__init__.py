"""Siisurit: download tracker tasks and work entries, match them, publish report views."""
