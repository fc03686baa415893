"""Emergency plans (应急预案), their runs next to the alerts, and drills."""
