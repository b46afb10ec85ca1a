"""Disruptions the scenarios inflict: deleting pods (gracefully, with a grace override, or by force)."""
