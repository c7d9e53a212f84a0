"""The approval console and the Slack and Jira approval channels (``prismaflow console``).

Every channel talks only to :class:`processors.remediation.desk.ApprovalDesk`. Importing this package
imports nothing else: the settings tree reads :mod:`streams.console.settings` without loading the
web stack.
"""
