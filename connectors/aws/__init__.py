"""AWS: botocore's service models for fix validation, the IAM policy linter, and the sandboxed
executor's plug-in that runs a remediation plan's botocore operations through boto3.

:mod:`.service_models` checks an action against botocore's own models, :mod:`.iam_lint` lints
least-privilege policies with parliament; :mod:`.operations` is the registry of the operations the
executor supports (nothing else is ever called), :mod:`.child` the program that runs one of them in a
child process, :mod:`.executor` the plug-in that starts that child with a minimal environment and a
time limit, :mod:`.settings` its settings (the ``aws_executor`` section, ``PRISMAFLOW_AWS_*``).
"""
