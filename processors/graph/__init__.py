"""The asset graph: findings of linked assets correlate into one incident, across partitions.

An EC2 instance's incident is not only its own findings: the IAM role its instance profile carries,
the security groups it sits in and the images running on it are part of its risk. An admin role
attached to an exposed, vulnerable instance is one incident, not three unrelated findings.

The model: hubs and satellites
------------------------------
*Hubs* are workloads (instances; hosts known only by name until resolved). *Satellites* are what
is attached to or runs on them: roles (``instance_profile``), security groups
(``security_group``), images (``runs_image``). Links come only from payloads
(:mod:`processors.graph.derive`): an instance's CSPM resource configuration names its profile and
groups; a Compute image scan names the hosts running the image. A satellite's open findings are
*linked findings* in each hub's correlation state (:mod:`processors.correlate`), so the hub's
incident holds its own findings and those of its satellites; one hop, no transitive closure.

Where a finding meets its neighbour: links on the core's own input topic
------------------------------------------------------------------------
State is per partition, and the raw topic is keyed by asset, so a role and its instance usually
live in different partitions, maybe in different processes. The core stage never looks anything up
remotely. Instead it sends itself messages, :class:`processors.records.AssetLink`, keyed by the
asset they are for, onto the topic it consumes (``prisma.alerts.raw``, header
``prismaflow-record: AssetLink``), **inside the transaction** of the record that caused them:

* ``edge``: the end that derived a link tells the other end (instance → role: "I carry you";
  image → host: "I run on you"); both ends keep it in their :class:`AssetGraph`.
* ``member``: a satellite forwards each change of its findings (and, on a new link, all its open
  ones) to its hubs; the hub folds them into its incident and re-emits the incident's members.
* ``alias``: an instance whose configuration names its host (``privateDnsName``) tells the host
  ids a Compute record knowing only that name would get. That host's partition then re-keys such
  records to the instance, and forwards to it what was addressed to the host as a hub.

Why this keeps exactly-once: a link is an output like a scored alert. It is committed with the
input offsets and the changelog in one transaction, or not at all; the receiving partition
consumes it ``read_committed`` and applies it in its own transaction. A crash replays the input and
re-sends the same links; nothing committed is lost or doubled. Replays are harmless besides:
edges and aliases are upserts, and a member is a finding keyed by (neighbour, alert id).

Why not the alternatives: a lookup of the neighbour's state from the core (a remote call per
record, and a read of state another transaction may be changing) breaks both the throughput
budget and exactly-once; keying a role's finding by its instance at the source needs the graph at
the source, and a role can sit on many instances; a global table every worker reads in full does
not scale with the estate and is read outside the transaction.

What it costs: links are sent only when something is new or changed (a link is re-announced
after half its lifetime, ``correlation.graph.link_ttl_hours``); a satellite's re-polled,
unchanged finding is not forwarded. A member's kept alert (for re-emission) is one more changelog
record per changed finding.

Known limits: a finding reaches its hub only after the link is known (an instance whose
configuration was never seen has no satellites); findings that reached a host known only by name
before its instance announced itself stay on the host asset until seen again; an instance profile
named differently from its role is not linked; the split topology (``run normalise`` + ``run
score``) correlates per asset only.
"""

from __future__ import annotations

from processors.graph.derive import HUB_KINDS, Derived, Edge, Relation, derive, host_aliases
from processors.graph.state import AssetGraph, Neighbour, resolved_instance

# The per-record step (processors.graph.step) and host resolution (processors.graph.resolve) are
# imported from their modules: they use processors.records, which itself uses AssetGraph.
__all__ = [
    "HUB_KINDS",
    "AssetGraph",
    "Derived",
    "Edge",
    "Neighbour",
    "Relation",
    "derive",
    "host_aliases",
    "resolved_instance",
]
