"""The run directory on disk: atomic writes, the ledger, the lock, manifests, round files, run info."""
