"""The template as written, evaluated for one set of parameter values (no SAM transform):
what the template tests check property by property."""

from __future__ import annotations

from typing import Any

from . import document
from .intrinsics import Resolver
from .names import Refs
from .parameters import check_parameters
from .stack import DEFAULT_ACCOUNT, DEFAULT_REGION

REGION, ACCOUNT, STACK = DEFAULT_REGION, DEFAULT_ACCOUNT, "events-api-test"


class Deployment(Resolver):
    """A deployment of template.yaml: its conditions and intrinsics evaluated for one set of
    parameter values, resource names as ``names`` gives them for stack ``STACK``."""

    def __init__(self, **overrides: str) -> None:
        raw = document.template()
        self.parameters = {
            name: str(value) for name, value in check_parameters(raw, overrides).items()
        }
        pseudo = {
            "AWS::StackName": STACK,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        refs = Refs(raw, dict(self.parameters), pseudo)
        super().__init__(raw, refs)
        refs.resolver = self
        self.refs: Refs = refs

    def resolve_all(self, node: Any) -> Any:
        return self.resolve(node)
