"""ENAS micro and macro ops (filled in by the ENAS space work)."""
