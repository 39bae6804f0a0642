"""Every name that is an identity (a site, a node, a camera; in a certificate, a manifest, a topic,
a config or a verifier) is checked here, by the one rule (issue 74, design/0315):
`edged_evidence_check.names`, the stand-alone checker's, which edged shares so a court's checker
and edged can never differ on what a name is. `fullmatch`, ASCII letters, digits, ".", "_", "-";
`shown` prints any other text escaped. A leaf: it imports nothing of storage/.
"""

from __future__ import annotations

from edged_evidence_check.names import (RULE, BadName, is_name, name, node_name, quoted_node, shown, shown_node,
                                        skeleton)

__all__ = ["RULE", "BadName", "is_name", "name", "node_name", "quoted_node", "shown", "shown_node", "skeleton"]
