"""Emergency plans (应急预案) at work: drills, their schedule and the technical drill, the incident report."""
