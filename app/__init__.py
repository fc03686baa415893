"""The application composed: every process's settings, the monthly report with its alerts, the sample
files. Below the API and the command line, above the domain packages."""
