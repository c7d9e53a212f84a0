"""The remediation path's Kafka side: the rollout policy as loaded and audited, the approval service,
and the shadow report."""
