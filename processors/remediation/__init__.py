"""Remediation: the plan a fix is, how it is validated, approved and what the executor may run.

Pure like the rest of :mod:`processors`: models and functions, no I/O. The outside systems that a
fix touches (AWS through boto3, a runner for Azure and GCP, botocore's service models) are reached
through ports that :mod:`connectors` implements.
"""
