"""The local AWS stand-in (moto), the Fusion health JSON import, and verify-deployment: see docs/local.md."""
