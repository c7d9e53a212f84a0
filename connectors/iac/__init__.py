"""Infrastructure-as-code tooling for fix validation: python-hcl2 and Checkov behind the port.

:class:`~connectors.iac.terraform.HclTerraformChecker` implements
:class:`~processors.remediation.ports.TerraformChecker`.
"""

from __future__ import annotations

from connectors.iac.terraform import CheckovError, HclTerraformChecker, TerraformCheckerSettings

__all__ = ["CheckovError", "HclTerraformChecker", "TerraformCheckerSettings"]
