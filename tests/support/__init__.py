"""Local stand-ins for remote services (Azurite, fake Azure Quantum, fake KFP API)."""
