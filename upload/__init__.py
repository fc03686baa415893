"""Upload to the higher-level data centre (数据上传): each configured site's item-coded totals per period, sent to a
provincial or municipal data centre over the 导则's TCP/XML protocol or an HTTPS/JSON profile, through an outbox
that survives outages and restarts (断点续传). See the README, "Upload to the data centre (数据上传)"."""
