"""The cost maths: what makes findings alike (processors/analyze/cost.py)."""

from __future__ import annotations

from processors.analyze.cost import config_shape


def test_config_shape_keeps_flags_and_drops_names() -> None:
    shape = config_shape({"Name": "bucket-123", "Versioning": {"Status": "Enabled"}, "Public": True,
                          "IpPermissions": [{"FromPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]})
    assert shape == ["IpPermissions[]", "IpPermissions[].FromPort=22", "IpPermissions[].IpRanges[]",
                     "IpPermissions[].IpRanges[].CidrIp=0.0.0.0/0", "Name", "Public=true", "Versioning.Status=Enabled"]
