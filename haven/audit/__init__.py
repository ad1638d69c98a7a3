"""The audit log: who did what security-relevant thing, from which address, when."""
