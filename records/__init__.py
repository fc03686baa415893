"""What the logistics office records by hand: check rounds, the hazard ledger, water tests, the sweep."""
