"""The sandboxed executor assembled: plug-ins per action kind, the plan loop, the re-check afterwards.

:class:`PlanExecutor` runs an :class:`~processors.remediation.execution.ExecutionRequest` through the
plug-ins (:mod:`connectors.aws` for AWS, :mod:`connectors.runner` for Azure and GCP);
:func:`execute_and_recheck` is what the executor stage calls for one approved plan: execute, ask
Prisma Cloud about the alert, and return the ticket follow-up and the audit entries to write.
"""

from __future__ import annotations

from connectors.execution.flow import ExecutionReport, execute_and_recheck
from connectors.execution.plan_executor import PlanExecutor, build_executor

__all__ = ["ExecutionReport", "PlanExecutor", "build_executor", "execute_and_recheck"]
