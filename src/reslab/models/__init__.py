"""Model definitions for the study (lab-facts sections 1 and 2)."""
