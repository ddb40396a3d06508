"""Plans of care and their goals."""
