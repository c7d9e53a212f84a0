"""AWS connector: botocore's service models for fix validation, the IAM policy linter, the executor."""
