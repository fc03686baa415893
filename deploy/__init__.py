"""Production: the broker's password file, ACL and credentials, the campus CA and TLS certificates,
Grafana's dashboards and provisioning. The systemd units are in systemd/, the container files in
container/."""
