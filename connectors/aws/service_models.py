"""botocore's own service models behind :class:`~processors.remediation.ports.ServiceCatalog`.

Fix validation asks whether an operation exists and whether its parameters are valid. The answer
comes from the JSON models botocore ships (the same ones boto3 and the AWS CLI run on), loaded with
botocore's loader and checked with :class:`botocore.validate.ParamValidator`: no hand-written copy
of any API to drift from AWS. Models are loaded once per service and kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from botocore import xform_name
from botocore.exceptions import DataNotFoundError, UnknownServiceError
from botocore.loaders import Loader, create_loader
from botocore.model import (
    ListShape,
    MapShape,
    OperationModel,
    OperationNotFoundError,
    ServiceModel,
    Shape,
    StructureShape,
)
from botocore.validate import ParamValidator

from processors.remediation.ports import ShapeInfo

__all__ = ["BotocoreServiceCatalog"]

_MAX_DEPTH = 6  # deep enough for every input the families use; stops recursive shapes


class BotocoreServiceCatalog:
    """The :class:`~processors.remediation.ports.ServiceCatalog` over botocore's bundled models."""

    def __init__(self, loader: Loader | None = None) -> None:
        self._loader = loader or create_loader()
        self._models: dict[str, ServiceModel | None] = {}
        self._validator = ParamValidator()

    def _service(self, service: str) -> ServiceModel | None:
        if service not in self._models:
            try:
                model = self._loader.load_service_model(service, "service-2")
            except (UnknownServiceError, DataNotFoundError):
                self._models[service] = None
            else:
                self._models[service] = ServiceModel(model, service_name=service)
        return self._models[service]

    def _operation(self, service: str, operation: str) -> OperationModel | None:
        model = self._service(service)
        if model is None:
            return None
        try:
            return model.operation_model(operation)
        except OperationNotFoundError:
            return None

    def operation_for_cli(self, service: str, cli_operation: str) -> str | None:
        model = self._service(service)
        if model is None:
            return None
        return _cli_operations(model).get(cli_operation)

    def operation_exists(self, service: str, operation: str) -> bool:
        return self._operation(service, operation) is not None

    def input_shape(self, service: str, operation: str) -> ShapeInfo | None:
        op = self._operation(service, operation)
        if op is None:
            return None
        if op.input_shape is None:
            return ShapeInfo(type_name="structure")
        return _describe(op.input_shape, 0)

    def parameter_errors(self, service: str, operation: str, parameters: Mapping[str, Any]) -> tuple[str, ...]:
        op = self._operation(service, operation)
        if op is None:
            return (f"{service} has no operation {operation}",)
        if op.input_shape is None:
            return () if not parameters else (f"{service} {operation} takes no parameters",)
        report = self._validator.validate(dict(parameters), op.input_shape)
        if not report.has_errors():
            return ()
        return tuple(line for line in report.generate_report().splitlines() if line.strip())


@lru_cache(maxsize=64)
def _cli_operations(model: ServiceModel) -> dict[str, str]:
    # The AWS CLI names an operation by botocore's own transform (DescribeDBInstances → describe-db-instances).
    return {xform_name(name, "-"): name for name in model.operation_names}


def _describe(shape: Shape, depth: int) -> ShapeInfo:
    if isinstance(shape, StructureShape):
        if depth >= _MAX_DEPTH:
            return ShapeInfo(type_name="structure")
        members = {name: _describe(member, depth + 1) for name, member in shape.members.items()}
        return ShapeInfo(
            type_name="structure",
            members=members,
            cli_names={xform_name(name, "-"): name for name in members},
        )
    if isinstance(shape, ListShape):
        return ShapeInfo(type_name="list", member=_describe(shape.member, depth + 1))
    if isinstance(shape, MapShape):
        return ShapeInfo(type_name="map", value=_describe(shape.value, depth + 1))
    return ShapeInfo(type_name=shape.type_name)
