"""Local-only fix to moto's CloudFormation so a nested stack's outputs can be read the way AWS reads them.

moto (5.x) creates an AWS::CloudFormation::Stack resource from its TemplateURL but cannot answer
`Fn::GetAtt NestedStack.Outputs.Name` (its Stack model has no get_cfn_attribute), which every parent stack that
wires its nested stacks together uses; template.yaml does (the mesh's CA and security group, the VPC's
subnets). This patches exactly that, in the local server process only; nothing in the product depends on it.
"""

from __future__ import annotations

from typing import Any


def install() -> None:
    """Patch moto's nested-stack model in this process (idempotent)."""
    from moto.cloudformation import models
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    if getattr(models, "_portico_cfn_fidelity", False):
        return
    models._portico_cfn_fidelity = True  # type: ignore[attr-defined]

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name.startswith("Outputs."):
            output = self.output_map[attribute_name.removeprefix("Outputs.")]
            if output is not None:
                return output.value
        raise UnformattedGetAttTemplateException()

    models.Stack.get_cfn_attribute = get_cfn_attribute
