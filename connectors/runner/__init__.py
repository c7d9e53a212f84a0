"""The runner: the executor's plug-in for Azure (``az``) and GCP (``gcloud``) actions.

Prismaflow does not hold Azure or GCP credentials and never runs a cloud CLI itself: a planned
``AZURE_CLI`` or ``GCLOUD_CLI`` action's argument vector is handed to a runner command the operator
configures (``PRISMAFLOW_RUNNER_AZURE_COMMAND`` / ``PRISMAFLOW_RUNNER_GCLOUD_COMMAND``, e.g. a wrapper
that logs in with a managed identity and execs ``az``). Without one, such actions are refused.
"""
