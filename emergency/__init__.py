"""When it goes wrong: the emergency plans (应急预案) next to the alerts, their runs and the drills (演练)."""
