"""Atlassian Document Format (ADF) builders for Prismaflow's Jira tickets and comments.

Two modules: :mod:`.nodes` (text cleaning, block builders, fitting a document into Jira's limit)
and :mod:`.documents` (the ticket description and comments Prismaflow writes); import from them.

Pure functions, no I/O. :func:`ticket_description` turns a :class:`ScoredAlert` (and the
:class:`Analysis` of it, when there is one) into an ADF ``doc`` (version 1) for Jira Cloud;
:func:`connectors.jira.wiki.to_wiki` renders the same document as wiki markup for Data Center.

Everything that comes from an alert or an analysis is untrusted (a resource name, a tag or an LLM
answer can carry text crafted to look like markup). Such text only ever becomes plain ``text``
nodes without marks, or the content of a ``codeBlock``: links and emphasis exist only where these
builders put them, with URLs built from settings. Control and format characters (bidi overrides,
zero-width) are removed, every field is capped, and the whole document is cut to Jira's 32,767
character description limit, dropping whole trailing sections and saying so.
"""
