"""drlib: disaster-recovery drills for a two-region AWS workload, with measured RTO and RPO."""

__version__ = "0.1.0"
